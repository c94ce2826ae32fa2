// The plugin's entry point for Nx (package.json main): inferred targets. Executors and generators
// are found through executors.json / generators.json.
export { createNodes, createNodesV2 } from './plugins/variants';
