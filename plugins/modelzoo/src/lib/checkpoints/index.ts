/** Public API of the checkpoint readers (what onnx-export calls). */
export { loadCheckpoint, detectFormat, type LoadedCheckpoint, type CheckpointMeta, type LoadOptions } from './load';
export { exportNative, type NativeExportOptions, type NativeExport } from './export-native';
export { resolveWeights, defaultCacheDir, type WeightsSpec, type ResolveOptions } from './weights';
export { runFrameworkExporter, frameworkCommand, type FrameworkExportOptions, type FrameworkLibrary } from './frameworks';
export { frameworkCounts, frameworkParamCount, type FrameworkCounts } from './counts';
export { OFFICIAL_WEIGHTS, type OfficialWeights } from './official';
export { CHECKPOINT_FORMATS, FRAMEWORK_SEMANTICS, type CheckpointFormat } from './mobilenetv2-keys';
export { UnpicklingError } from './pickle';
