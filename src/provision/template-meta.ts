/** The metadata file (`template.json`) of a site template, validated with zod. */
import { z } from 'zod';
import { IMAGE_REF_RE, isPinned, PARAM_VALUE_RE } from './names.js';

const relPath = z
  .string()
  .regex(
    /^(?!\/)(?!.*(?:^|\/)\.\.?(?:\/|$))[A-Za-z0-9_./-]{1,200}$/,
    'expected a relative path inside the site folder',
  );
/**
 * Paths a template's `files` may not write: the compose files compose would pick (and its
 * override files, which it merges), `.env` with the generated secrets, and Caddy snippets.
 */
const RESERVED_FILE_RE = /^(?:(?:docker-)?compose(?:\.override)?\.ya?ml|\.env)$|\.caddy$|(?:^|\/)\.env$/i;
const serviceName = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'expected a compose service name');

/** One parameter written to the site's `.env`: generated (a secret) or a fixed value template. */
const parameter = z
  .object({
    name: z.string().regex(/^[A-Z][A-Z0-9_]{0,63}$/, 'expected an UPPER_SNAKE_CASE name'),
    description: z.string().max(200).default(''),
    /** Secrets are generated, written only to `.env` (mode 0600) and never shown. */
    secret: z.boolean().default(false),
    generate: z.enum(['password', 'token']).optional(),
    /** A Handlebars template over the site context, e.g. `{{siteId}}`; must render to a plain word. */
    value: z.string().max(200).optional(),
  })
  .refine((p) => (p.generate === undefined) !== (p.value === undefined), {
    message: 'a parameter has exactly one of generate or value',
  })
  .refine((p) => !p.secret || p.generate !== undefined, { message: 'a secret parameter must be generated' })
  .refine((p) => p.value === undefined || PARAM_VALUE_RE.test(p.value.replace(/\{\{[^}]*\}\}/g, 'x')), {
    message: 'a parameter value may only contain letters, digits and _ . @ / -',
  });

/** Validated template metadata. */
export const templateMetaSchema = z
  .object({
    description: z.string().min(1).max(300),
    /** What runs, shown by /templates, e.g. `WordPress 6 + MariaDB 11`. */
    stack: z.string().min(1).max(200),
    /** Image key -> pinned reference; compose templates use `{{images.KEY}}`. */
    images: z.record(
      z.string().regex(/^[a-z][a-z0-9_]{0,39}$/, 'expected a lowercase image key'),
      z
        .string()
        .regex(IMAGE_REF_RE, 'expected an image reference')
        .refine(isPinned, 'images are pinned: give a tag other than latest, or a digest'),
    ),
    services: z
      .array(
        z.object({
          name: serviceName,
          role: z.enum(['web', 'app', 'database', 'worker']),
          description: z.string().max(200).default(''),
        }),
      )
      .min(1),
    /** The service Caddy proxies to, and its port inside the container. */
    web: z.object({ service: serviceName, port: z.number().int().min(1).max(65535) }),
    /** Path of the CMS admin, e.g. `/admin` or `/wp-admin/`. */
    adminPath: z.string().regex(/^\/[A-Za-z0-9_./-]{0,100}$/, 'expected a path such as /admin'),
    parameters: z.array(parameter).default([]),
    health: z
      .object({
        /** Wait for every container to be up, and healthy when it has a healthcheck. */
        containers: z.boolean().default(true),
        /** HTTP paths requested on the web service's published loopback port. */
        http: z
          .array(
            z.object({
              path: z.string().regex(/^\/[A-Za-z0-9_./?=&-]{0,200}$/, 'expected a path'),
              /** Accepted status codes; default any status below 500. */
              expect: z.array(z.number().int().min(100).max(599)).optional(),
            }),
          )
          .default([]),
      })
      .default({ containers: true, http: [] }),
    /** Folders created in the site folder (data, uploads, content). */
    dirs: z.array(relPath).default([]),
    /** Extra files rendered into the site folder (HTML-escaped Handlebars); never SiteFlow's own files. */
    files: z
      .array(
        z.object({
          path: relPath.refine((p) => !RESERVED_FILE_RE.test(p), {
            message:
              'a template file may not write the compose file, an override, .env or a Caddy snippet: SiteFlow writes those',
          }),
          template: relPath,
        }),
      )
      .default([]),
    notes: z.string().max(500).optional(),
  })
  .refine((m) => m.services.some((s) => s.name === m.web.service), {
    message: 'web.service must be one of services',
  });

/** Template metadata as written in `template.json`. */
export type TemplateMeta = z.output<typeof templateMetaSchema>;
