import { z } from 'zod';
import type { RouteSpec } from './routes.js';

const ERROR = {
  description: 'Refused or failed, with a reason',
  content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
};

/**
 * OpenAPI 3.1 description of the REST API, made from the same route list the app mounts, so a route
 * and its description cannot drift apart; a test compares it with the routes Express really serves.
 */
/** A zod schema as the JSON Schema (2020-12, OpenAPI 3.1's dialect) of what travels: input for requests, output for answers. */
const jsonSchema = (schema: z.ZodType, io: 'input' | 'output') => {
  const { $schema: _dialect, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as Record<string, unknown>;
  return rest;
};

/** Query parameters, one per field of the query's schema. */
function queryParameters(schema: z.ZodType) {
  const json = jsonSchema(schema, 'input') as { properties?: Record<string, Record<string, unknown>>; required?: string[] };
  return Object.entries(json.properties ?? {}).map(([name, property]) => ({ name, in: 'query', required: json.required?.includes(name) ?? false, schema: property }));
}

/**
 * OpenAPI 3.1 description of the REST API, made from the same route list the app mounts, with the
 * request schemas the handlers parse and the answer schemas of answers.ts, so a route and its
 * description cannot drift apart: a test compares it with the routes Express really serves and holds
 * real answers to it.
 */
export function openApiDocument(routes: RouteSpec[], version: string) {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const spec of routes) {
    const path = `/api/v1${spec.path.replace(/:([A-Za-z]+)/g, '{$1}')}`;
    const parameters = [
      ...[...spec.path.matchAll(/:([A-Za-z]+)/g)].map((m) => ({ name: m[1], in: 'path', required: true, schema: { type: 'string' } })),
      ...(spec.query ? queryParameters(spec.query) : []),
    ];
    const answer = spec.answers ?? { status: 200, description: 'Success' };
    const answerContent = answer.schema
      ? { content: { 'application/json': { schema: jsonSchema(answer.schema, 'output'), ...(spec.example?.answer ? { example: spec.example.answer } : {}) } } }
      : {};
    const requestBody = spec.jsonBody
      ? {
          requestBody: {
            required: true,
            content: { 'application/json': { schema: spec.body ? jsonSchema(spec.body, 'input') : { type: 'object' }, ...(spec.example?.request ? { example: spec.example.request } : {}) } },
            'x-max-size': spec.jsonBody,
          },
        }
      : {};
    paths[path] ??= {};
    paths[path]![spec.method] = {
      summary: spec.summary,
      operationId: `${spec.method}${spec.path.replace(/[/:{}-]+(\w)/g, (_, c: string) => c.toUpperCase())}`,
      tags: [spec.path.split('/')[1]],
      ...(parameters.length ? { parameters } : {}),
      ...(spec.permission === 'public' ? { security: [] } : {}),
      'x-permission': spec.permission,
      ...(spec.rateLimit ? { 'x-rate-limit-group': spec.rateLimit } : {}),
      // An operator session also sends a fresh authenticator code in X-Hallmark-TOTP (http/step-up.ts).
      ...(spec.stepUp ? { 'x-fresh-totp': true } : {}),
      // Only an operator session, never an API key or a client certificate.
      ...(spec.sessionOnly ? { 'x-session-only': true } : {}),
      ...requestBody,
      responses: { [String(answer.status)]: { description: answer.description, ...answerContent }, '4XX': ERROR, '5XX': ERROR },
    };
  }
  return {
    openapi: '3.1.0',
    info: { title: 'Hallmark REST API', version, description: 'Private PKI and device provisioning. Errors are {"error": {"code", "message"}}.' },
    servers: [{ url: '/' }],
    security: [{ bearer: [] }, { clientCertificate: [] }],
    components: {
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'API key (hmk_…) or operator session (hms_…)' },
        clientCertificate: { type: 'mutualTLS', description: 'A client certificate issued here whose profile grants a role' },
      },
      schemas: {
        Error: { type: 'object', required: ['error'], properties: { error: { type: 'object', required: ['code', 'message'], properties: { code: { type: 'string' }, message: { type: 'string' } } } } },
      },
    },
    paths,
  };
}

/** "METHOD /path" for every route an Express router serves (for the description check). */
export function servedRoutes(router: { stack: { route?: { path: string; methods: Record<string, boolean> } }[] }, prefix: string): string[] {
  return router.stack
    .filter((layer) => layer.route)
    .flatMap((layer) => Object.keys(layer.route!.methods).filter((m) => m !== '_all').map((m) => `${m.toUpperCase()} ${prefix}${layer.route!.path}`))
    .sort();
}

/** Routes Express serves that the description does not list, and described routes nobody serves. */
export function describedVersusServed(document: { paths: Record<string, Record<string, unknown>> }, served: string[]) {
  const described = Object.entries(document.paths)
    .flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path.replace(/\{([A-Za-z]+)\}/g, ':$1')}`))
    .sort();
  return { undescribed: served.filter((r) => !described.includes(r)), unserved: described.filter((r) => !served.includes(r)) };
}
