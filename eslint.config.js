// ESLint (flat config): eslint's and typescript-eslint's recommended rules, without type information
// (fast enough for CI on two cores). Formatting is Prettier's job (.prettierrc.json), not ESLint's.
import js from '@eslint/js';
import { defineConfig } from 'eslint/config';
import tseslint from 'typescript-eslint';

export default defineConfig(
  {
    ignores: [
      'node_modules/',
      'dist/',
      'runs/',
      '.tap/',
      'test/fixtures/',
      'data/',
      'docs/walkthrough/figures/',
      'web/dist/',
      'gpubench/',
    ],
  },
  js.configs.recommended,
  tseslint.configs.recommended,
  {
    rules: {
      // `any` stands only where untyped data comes in: pickle/protobuf/flatbuffer records, ONNX and
      // TF graphs read from files, Dawn objects, and tests poking at those records.
      '@typescript-eslint/no-explicit-any': 'off',
      // `(best = s), (bestC = c)`, `ok && run()` and `c ? a() : b()` are the house's short forms in
      // tight loops (80 places); the rule has no option for comma-joined assignments.
      '@typescript-eslint/no-unused-expressions': 'off',
      // `_name`: a parameter a signature needs, or a key taken out of a rest spread on purpose.
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', ignoreRestSiblings: true },
      ],
      // `let { s, main } = ...` where only s changes reads better than splitting the destructuring.
      'prefer-const': ['error', { destructuring: 'all' }],
      // `interface RgbImage extends Pixels {}`: a named type for a shape shared with other formats.
      '@typescript-eslint/no-empty-object-type': ['error', { allowInterfaces: 'with-single-extends' }],
      // Readers rethrow as InputError naming the file and the field, with the original message folded in
      // (engine/errors.ts); a `cause` chain would repeat it.
      'preserve-caught-error': 'off',
    },
  },
  {
    files: ['test/**'],
    rules: {
      // Regexes there match console tables column by column: literal spaces and ANSI codes read like the output.
      'no-regex-spaces': 'off',
      'no-control-regex': 'off',
    },
  },
);
