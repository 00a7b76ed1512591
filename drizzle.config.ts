import { defineConfig } from "drizzle-kit";

/**
 * Each mode keeps its own database and migrations: `DB=<service> drizzle-kit generate`
 * (`npm run db:generate` runs all). SQLite is the default dialect;
 * `DIALECT=postgresql` generates the PostgreSQL migrations of the modes that can
 * use it (controller, lightningstor) from their `schema-pg.ts` into `migrations-pg/`.
 * The generated SQL is embedded via each migrations folder's `index.ts`.
 */
const services = {
  controller: "./src/controller",
  coronafs: "./src/coronafs",
  lightningstor: "./src/lightningstor",
} as const;
const service = (process.env.DB ?? "controller") as keyof typeof services;
const postgres = process.env.DIALECT === "postgresql";

export default defineConfig({
  dialect: postgres ? "postgresql" : "sqlite",
  schema: `${services[service]}/${postgres ? "schema-pg.ts" : "schema.ts"}`,
  out: `${services[service]}/${postgres ? "migrations-pg" : "migrations"}`,
});
