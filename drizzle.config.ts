import { defineConfig } from "drizzle-kit";

/**
 * Each mode keeps its own SQLite file and migrations: `DB=<service> drizzle-kit generate`
 * (`npm run db:generate` runs all). The generated SQL is embedded via each `migrations/index.ts`.
 */
const services = {
  controller: "./src/controller",
  coronafs: "./src/coronafs",
  lightningstor: "./src/lightningstor",
} as const;
const service = (process.env.DB ?? "controller") as keyof typeof services;

export default defineConfig({
  dialect: "sqlite",
  schema: `${services[service]}/schema.ts`,
  out: `${services[service]}/migrations`,
});
