export {
  distInfoMatches,
  HttpRandomAccess,
  type HttpRandomAccessOptions,
  type MetadataChoice,
  type ReadWheelMetadataOptions,
  readWheelMetadata,
  selectWheelMetadata,
  WHEEL_METADATA_METHODS,
  type WheelFileRef,
  type WheelMetadataFallback,
  type WheelMetadataMethod,
  type WheelMetadataResult,
} from './wheel';
