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
  type ZipTail,
} from './zip/types';
export { DEFAULT_TAIL_BYTES, openZip, openZipTail } from './zip/zip-archive';
