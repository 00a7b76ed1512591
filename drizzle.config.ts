import { defineConfig } from "drizzle-kit";

/** `npm run db:generate` writes the controller's migrations; they are embedded via migrations/index.ts. */
export default defineConfig({
  dialect: "sqlite",
  schema: "./src/controller/schema.ts",
  out: "./src/controller/migrations",
});
