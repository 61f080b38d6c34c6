export { HttpRandomAccess, type HttpRandomAccessOptions } from './http-random-access';
export {
  type ReadWheelMetadataOptions,
  rangeTailBytes,
  readWheelMetadata,
  WHEEL_METADATA_METHODS,
  type WheelFileRef,
  type WheelMetadataFallback,
  type WheelMetadataMethod,
  type WheelMetadataResult,
} from './read-wheel-metadata';
export {
  distInfoMatches,
  type MetadataChoice,
  selectWheelMetadata,
  selectWheelMetadataFromEnd,
} from './select-metadata';
