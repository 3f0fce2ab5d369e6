import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/**
 * Dependencies point one way (docs/development.md):
 *   reconcilers -> clusters -> control-plane -> nodes -> hypervisor, networks, events, jobs, ... -> common, config
 * Each rule names the folders a layer must not import; a cycle therefore fails `make lint`.
 */
const LOWER_MODULES = 'common,jobs,platform,tenants,audit,storage-pools,networks,hypervisor,events';
function layer(files, forbidden, why) {
  return {
    files,
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [{ group: forbidden.map((dir) => `**/${dir}/**`), message: why }] },
      ],
    },
  };
}
const LAYERS = [
  layer(
    [`src/{${LOWER_MODULES}}/**/*.ts`],
    ['clusters', 'nodes', 'control-plane', 'reconcilers'],
    'a lower module never imports nodes, control-plane, clusters or the reconcilers; register a callback instead',
  ),
  layer(
    ['src/nodes/**/*.ts'],
    ['control-plane', 'clusters', 'reconcilers'],
    'nodes never import control-plane, clusters or the reconcilers',
  ),
  layer(
    ['src/control-plane/**/*.ts'],
    ['clusters', 'reconcilers'],
    'control-plane never imports clusters or the reconcilers',
  ),
  layer(
    ['src/clusters/**/*.ts'],
    ['reconcilers'],
    'the clusters API never imports the reconcilers: it enqueues their jobs',
  ),
];

export default tseslint.config(
  {
    ignores: [
      'dist/',
      'dist-bench/',
      'node_modules/',
      'native/libvirt/build/',
      'coverage/',
      'guest-image/',
      '.data/',
      'web/dist/',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: {
        process: 'readonly',
        console: 'readonly',
        Buffer: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
        setInterval: 'readonly',
        clearInterval: 'readonly',
        setImmediate: 'readonly',
        URL: 'readonly',
        fetch: 'readonly',
        AbortController: 'readonly',
        AbortSignal: 'readonly',
        performance: 'readonly',
        TextEncoder: 'readonly',
        TextDecoder: 'readonly',
        structuredClone: 'readonly',
      },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-explicit-any': 'error',
      'no-console': 'off',
    },
  },
  ...LAYERS,
  {
    // The dashboard: plain ES modules that run in the browser.
    files: ['web/**/*.js'],
    languageOptions: {
      sourceType: 'module',
      globals: {
        window: 'readonly',
        document: 'readonly',
        location: 'readonly',
        history: 'readonly',
        navigator: 'readonly',
        sessionStorage: 'readonly',
        Node: 'readonly',
        HTMLElement: 'readonly',
        FormData: 'readonly',
        Blob: 'readonly',
        CSS: 'readonly',
        URLSearchParams: 'readonly',
      },
    },
  },
);
