import { defineConfig } from 'drizzle-kit';

// drizzle-kit reads the schema and writes SQL migrations; `npm run migrate` applies them.
export default defineConfig({
  dialect: 'postgresql',
  schema: './src/storage/schema.ts',
  out: './src/storage/migrations',
});
