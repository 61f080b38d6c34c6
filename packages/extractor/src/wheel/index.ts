export { HttpRandomAccess, type HttpRandomAccessOptions } from './http-random-access';
export {
  type ReadWheelMetadataOptions,
  rangeTailBytes,
  readWheelMetadata,
  type WheelFileRef,
} from './read-wheel-metadata';
export {
  distInfoMatches,
  type MetadataChoice,
  selectWheelMetadata,
  selectWheelMetadataFromEnd,
} from './select-metadata';
