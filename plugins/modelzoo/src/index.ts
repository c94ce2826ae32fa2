// The plugin's entry point for Nx (package.json main, nx.json `plugins`): inferred targets and the
// end-of-run report summary. Executors and generators are found through executors.json / generators.json.
export { createNodes, createNodesV2 } from './plugins/variants';
export { postTasksExecution } from './plugins/report-summary';
