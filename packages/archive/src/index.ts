export {
  bufferRandomAccess,
  type ClosableRandomAccess,
  openFileRandomAccess,
  type RandomAccess,
} from './random-access';
export { checkLinksResolveInside, checkLinkTarget, normalizeEntryName } from './tar/entry-names';
export { scanSdist, sdistFormatOf } from './tar/scan-sdist';
export {
  DEFAULT_SDIST_LIMITS,
  type ScanSdistOptions,
  type SdistFormat,
  type SdistLimits,
  type SdistScan,
} from './tar/types';
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
