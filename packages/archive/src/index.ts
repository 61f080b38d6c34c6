export {
  bufferRandomAccess,
  type ClosableRandomAccess,
  openFileRandomAccess,
  type RandomAccess,
} from './random-access';
export {
  DEFAULT_ZIP_LIMITS,
  type OpenZipOptions,
  type ReadEntryOptions,
  type ZipArchive,
  type ZipEntry,
  type ZipLimits,
} from './zip/types';
export { DEFAULT_TAIL_BYTES, openZip } from './zip/zip-archive';
