import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules', 'dist', '.stepgate', '.tmp', 'coverage', 'src/storage/migrations'] },
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts', '**/*.tsx'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { arguments: false } }],
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
    },
  },
  {
    // Dependencies point inward: the domain core does no I/O and knows no driver or framework.
    files: ['src/core/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['**/storage/**', '**/engine/**', '**/http/**', '**/cli/**', '**/providers/**'], message: 'core/ depends on nothing outside core/.' },
            { group: ['fastify', 'fastify-*', '@fastify/*', 'pg', '@electric-sql/*', 'drizzle-orm*', 'openai', 'node:fs', 'node:fs/*', 'node:net', 'node:http'], message: 'core/ is pure: no I/O, no driver, no framework.' },
          ],
        },
      ],
    },
  },
  {
    files: ['src/engine/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ group: ['**/http/**', '**/cli/**', 'fastify', 'commander'], message: 'engine/ knows no surface.' }] }],
    },
  },
);
