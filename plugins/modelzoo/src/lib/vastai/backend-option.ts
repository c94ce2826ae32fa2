import { UserError } from '../common/errors';

/**
 * `backend` picks the path; the `vastai` object only configures it. A `vastai` object without
 * `backend: 'vastai'` would silently run ONNX Runtime, so it is an error that names both options.
 * Returns the vastai options (defaults applied) when the backend is vastai.
 */
export function requireBackendOptions<V extends object>(
  o: { backend?: string; vastai?: V },
  where: { project: string; target: string },
): V | undefined {
  if (o.backend === 'vastai') return (o.vastai ?? ({} as V));
  if (o.vastai !== undefined) {
    throw new UserError(
      `${where.project}:${where.target}: option 'vastai' is set but option 'backend' is '${o.backend ?? 'onnxruntime'}'; set backend: 'vastai' (the 'vastai' configuration does: -c vastai)`,
    );
  }
  return undefined;
}
