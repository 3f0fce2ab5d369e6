import express, { type NextFunction, type Request, type Response } from 'express';
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { NestExpressApplication } from '@nestjs/platform-express';

/**
 * The dashboard's pages may load code, styles and data from this origin only: no inline script,
 * no framing, no plug-ins. The API key lives in sessionStorage, so script injection is the threat
 * that matters and the policy is what closes it.
 */
export const DASHBOARD_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "font-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

export const DASHBOARD_HEADERS: Record<string, string> = {
  'Content-Security-Policy': DASHBOARD_CSP,
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  'Referrer-Policy': 'no-referrer',
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Resource-Policy': 'same-origin',
  'Permissions-Policy': 'camera=(), microphone=(), geolocation=(), payment=()',
  // Small files served as they are: always revalidate so a new version shows at once.
  'Cache-Control': 'no-cache',
};

/** The web/ folder of the repository, found from this file in src/ or in dist/src/. */
export function dashboardDir(start = import.meta.dirname): string | undefined {
  let dir = start;
  for (;;) {
    if (existsSync(join(dir, 'web', 'index.html'))) return join(dir, 'web');
    const parent = dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

/** Every file under dir, as the URL path that serves it ("/js/app.js"). */
function filesUnder(dir: string, prefix = ''): string[] {
  return readdirSync(join(dir, prefix), { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? filesUnder(dir, `${prefix}/${e.name}`) : e.isFile() ? [`${prefix}/${e.name}`] : [],
  );
}

/**
 * Serves the dashboard's static files at `/`. The files are listed once at start: only a GET or
 * HEAD for one of them (or `/`) reaches the file server, so API routes (`/v1`, `/docs`,
 * `/healthz`, ...) pass through untouched and cost no file-system lookup.
 */
export function serveDashboard(app: NestExpressApplication, dir = dashboardDir()): boolean {
  if (!dir) return false;
  const paths = new Set(['/', ...filesUnder(dir)]);
  const files = express.static(dir, {
    index: 'index.html',
    redirect: false,
    dotfiles: 'ignore',
    fallthrough: true,
    setHeaders: (res: Response) => {
      for (const [name, value] of Object.entries(DASHBOARD_HEADERS)) res.setHeader(name, value);
    },
  });
  app.use((req: Request, res: Response, next: NextFunction) =>
    (req.method === 'GET' || req.method === 'HEAD') && paths.has(req.path) ? files(req, res, next) : next(),
  );
  return true;
}
