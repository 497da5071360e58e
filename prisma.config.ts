import { defineConfig } from 'prisma/config';

// Only `prisma generate` is used; migrations are applied by src/db/migrate.ts (the CLI's
// schema engine cannot be downloaded offline). DATABASE_URL is optional here on purpose.
export default defineConfig({
  schema: 'prisma/schema.prisma',
  migrations: { path: 'prisma/migrations' },
});
