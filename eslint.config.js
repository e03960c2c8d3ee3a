// ESLint flat config: typescript-eslint's type-checked rules, formatting left to Prettier.
import eslint from '@eslint/js';
import prettier from 'eslint-config-prettier';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: ['dist/**', 'node_modules/**', 'coverage/**', 'gateway/src/grpc/generated/**'],
  },
  eslint.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  ...tseslint.configs.stylisticTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        projectService: true,
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': [
        'error',
        { considerDefaultExhaustiveForUnions: true },
      ],
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-non-null-assertion': 'error',
      '@typescript-eslint/restrict-template-expressions': [
        'error',
        { allowNumber: true, allowBoolean: true },
      ],
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_' },
      ],
    },
  },
  {
    files: ['**/*.js'],
    ...tseslint.configs.disableTypeChecked,
  },
  {
    // The web page: browser modules and an AudioWorklet, plain JavaScript (no build step).
    files: ['gateway/public/**/*.js'],
    languageOptions: {
      sourceType: 'module',
      globals: Object.fromEntries(
        [
          // Window
          'AudioContext',
          'AudioWorkletNode',
          'Blob',
          'FormData',
          'URL',
          'WebSocket',
          'XMLHttpRequest',
          'btoa',
          'clearTimeout',
          'crypto',
          'document',
          'fetch',
          'localStorage',
          'navigator',
          'setTimeout',
          'window',
          'TextEncoder',
          // AudioWorkletGlobalScope
          'AudioWorkletProcessor',
          'registerProcessor',
          'sampleRate',
        ].map((name) => [name, 'readonly']),
      ),
    },
  },
  prettier,
);
