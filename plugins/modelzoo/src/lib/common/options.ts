import Ajv, { type ErrorObject } from 'ajv';
import { UserError } from './errors';

/**
 * Validates executor options against the same schema.json that Nx shows. Nx itself only applies
 * defaults and checks types loosely, so unknown keys (a typo'd option silently ignored) would slip by.
 */
const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: false });
const compiled = new WeakMap<object, ReturnType<typeof ajv.compile>>();

export interface OptionsContext {
  project: string;
  target: string;
}

export function validateOptions<T>(schema: object, options: unknown, where: OptionsContext): T {
  let validate = compiled.get(schema);
  if (!validate) {
    // Nx-only keywords in schema.json ($default, x-prompt, ...) are not JSON Schema; strip them.
    validate = ajv.compile(stripNxKeywords(schema) as object);
    compiled.set(schema, validate);
  }
  const copy = structuredClone(options ?? {}) as Record<string, unknown>;
  if (!validate(copy)) {
    const lines = (validate.errors ?? []).map((e) => formatError(e));
    throw new UserError(
      `Invalid options for ${where.project}:${where.target}:\n` + lines.map((l) => `  - ${l}`).join('\n'),
    );
  }
  return copy as T;
}

function formatError(e: ErrorObject): string {
  const at = e.instancePath ? `option '${e.instancePath.slice(1).replace(/\//g, '.')}'` : 'options';
  if (e.keyword === 'additionalProperties') {
    const extra = (e.params as { additionalProperty: string }).additionalProperty;
    const base = e.instancePath ? `${e.instancePath.slice(1).replace(/\//g, '.')}.` : '';
    return `unknown option '${base}${extra}'`;
  }
  if (e.keyword === 'enum') {
    return `${at} must be one of ${JSON.stringify((e.params as { allowedValues: unknown[] }).allowedValues)}`;
  }
  return `${at} ${e.message ?? 'is invalid'}`;
}

function stripNxKeywords(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(stripNxKeywords);
  if (schema && typeof schema === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(schema)) {
      if (k === '$default' || k.startsWith('x-') || k === 'version' || k === 'outputCapture' || k === 'cli') continue;
      if (k === '$schema' || k === '$id') continue;
      out[k] = stripNxKeywords(v);
    }
    return out;
  }
  return schema;
}
