// Bundles the extension (Node, CommonJS, `vscode` external) and the chat webview (browser
// IIFE) into dist/; with --tests, bundles each unit test with the pure modules it imports
// into out/test/ instead (no `vscode` there: a test that pulled it in would fail to bundle).
import * as esbuild from 'esbuild';
import { readdirSync, rmSync } from 'node:fs';

const production = process.argv.includes('--production');
const tests = process.argv.includes('--tests');
const common = { bundle: true, logLevel: 'warning', sourcemap: !production, minify: production };

rmSync(tests ? 'out' : 'dist', { recursive: true, force: true });

const builds = tests
  ? [
      {
        entryPoints: readdirSync('test')
          .filter((f) => f.endsWith('.test.ts'))
          .map((f) => `test/${f}`),
        outdir: 'out/test',
        platform: 'node',
        format: 'cjs',
        target: 'node20',
      },
    ]
  : [
      {
        entryPoints: ['src/extension.ts'],
        outfile: 'dist/extension.js',
        platform: 'node',
        format: 'cjs',
        target: 'node18',
        external: ['vscode'],
      },
      {
        entryPoints: ['webview/main.ts'],
        outfile: 'dist/webview.js',
        platform: 'browser',
        format: 'iife',
        target: 'es2022',
      },
    ];

await Promise.all(builds.map((options) => esbuild.build({ ...common, ...options })));
