import { and, asc, eq, sql } from "drizzle-orm";
import type { BunSQLiteDatabase } from "drizzle-orm/bun-sqlite";
import type { SecretBox } from "../util/secret-box.ts";
import * as schema from "./schema.ts";
import type { GrantRow, KeyRow } from "./schema.ts";

/** What a key may do on one bucket (Garage's `--read --write --owner`). */
export interface BucketRights {
  read: boolean;
  write: boolean;
  owner: boolean;
}

/** How far a key reaches: root and legacy keys everywhere, scoped keys where their grants say. */
export type KeyAccess = KeyRow["access"];

/** A key as the admin API shows it: never its secret. */
export type KeyInfo = Omit<KeyRow, "secretKey" | "secretSealed"> & { grants: Omit<GrantRow, "accessKey">[] };

/** A change of rights: the bucket rights named true are given (allow) or taken (deny). */
export interface RightsChange extends Partial<BucketRights> {
  bucket?: string;
  createBucket?: boolean;
}

/** No right at all: a key without a grant on the bucket. */
export const noRights: BucketRights = { read: false, write: false, owner: false };

/** Why a change of rights was refused (the admin API answers 404 or 409). */
export class KeyError extends Error {
  constructor(
    readonly reason: "no-key" | "no-bucket" | "root",
    message: string,
  ) {
    super(message);
    this.name = "KeyError";
  }
}

type Db = BunSQLiteDatabase<typeof schema>;
type Tx = Parameters<Parameters<Db["transaction"]>[0]>[0];

/**
 * The access keys of a gateway and their rights, in its SQLite database.
 * Secrets are stored sealed (SecretBox) and opened per request; the rights
 * lookups every request makes are prepared once.
 */
export class KeyStore {
  private readonly lookups;

  constructor(
    private readonly db: Db,
    private readonly box: SecretBox,
  ) {
    const { accessKeys, bucketGrants, buckets } = schema;
    const [key, bucket] = [sql.placeholder("key"), sql.placeholder("bucket")];
    this.lookups = {
      key: db.select().from(accessKeys).where(eq(accessKeys.accessKey, key)).prepare(),
      grant: db.select().from(bucketGrants).where(and(eq(bucketGrants.accessKey, key), eq(bucketGrants.bucket, bucket))).prepare(),
      isPublic: db.select({ publicRead: buckets.publicRead }).from(buckets).where(eq(buckets.name, bucket)).prepare(),
    };
  }

  /**
   * Seals the secrets of rows written before secrets were sealed, and checks
   * that the sealed ones open (a wrong key file is found at start, not per request).
   */
  sealStored(): { sealed: number } {
    return this.db.transaction((tx) => {
      let sealed = 0;
      for (const row of tx.select().from(schema.accessKeys).all()) {
        if (row.secretSealed) {
          this.openSecret(row);
          continue;
        }
        tx.update(schema.accessKeys)
          .set({ secretKey: this.box.seal(row.secretKey, row.accessKey), secretSealed: true })
          .where(eq(schema.accessKeys.accessKey, row.accessKey))
          .run();
        sealed++;
      }
      return { sealed };
    });
  }

  /** The secret of an access key; undefined when the key is unknown. */
  secretFor(accessKey: string): string | undefined {
    const row = this.lookups.key.get({ key: accessKey });
    return row && this.openSecret(row);
  }

  /** The key's access and create right; undefined when the key is unknown. */
  accessOf(accessKey: string): { access: KeyAccess; createBucket: boolean } | undefined {
    const row = this.lookups.key.get({ key: accessKey });
    return row && { access: row.access, createBucket: row.createBucket };
  }

  /** What a key's grant on a bucket allows (none when it has no grant). */
  grantOn(accessKey: string, bucket: string): BucketRights {
    const row = this.lookups.grant.get({ key: accessKey, bucket });
    return row ? { read: row.read, write: row.write, owner: row.owner } : noRights;
  }

  /** Whether anonymous requests may read the bucket. */
  isPublic(bucket: string): boolean {
    return this.lookups.isPublic.get({ bucket })?.publicRead ?? false;
  }

  /** Every key in creation order, with its grants (no secrets). */
  list(): KeyInfo[] {
    const grants = this.db.select().from(schema.bucketGrants).orderBy(asc(schema.bucketGrants.bucket)).all();
    return this.db
      .select()
      .from(schema.accessKeys)
      .orderBy(asc(schema.accessKeys.createdAt))
      .all()
      .map(({ secretKey: _secret, secretSealed: _sealed, ...key }) => ({
        ...key,
        grants: grants.filter((g) => g.accessKey === key.accessKey).map(({ accessKey: _key, ...grant }) => grant),
      }));
  }

  /** Adds a scoped key with its rights, in one transaction; a grant on a missing bucket is a KeyError. */
  addScoped(accessKey: string, secretKey: string, name: string, rights: { createBucket: boolean; grants: (BucketRights & { bucket: string })[] }): void {
    this.db.transaction((tx) => {
      tx.insert(schema.accessKeys)
        .values({ accessKey, secretKey: this.box.seal(secretKey, accessKey), secretSealed: true, name, createdAt: new Date(), access: "scoped", createBucket: rights.createBucket })
        .run();
      for (const grant of rights.grants) this.change(tx, accessKey, { ...grant }, true);
    });
  }

  /** Makes `accessKey` a root key with this secret (added when missing). */
  ensureRoot(accessKey: string, secretKey: string): void {
    const sealed = { secretKey: this.box.seal(secretKey, accessKey), secretSealed: true, access: "root" as const };
    this.db
      .insert(schema.accessKeys)
      .values({ accessKey, name: "root", createdAt: new Date(), createBucket: true, ...sealed })
      .onConflictDoUpdate({ target: schema.accessKeys.accessKey, set: sealed })
      .run();
  }

  /** Removes a key and its grants; false when there was none. */
  delete(accessKey: string): boolean {
    return this.db.delete(schema.accessKeys).where(eq(schema.accessKeys.accessKey, accessKey)).returning().all().length > 0;
  }

  /**
   * Gives (allow) or takes (deny) rights. A legacy key that is given or
   * denied anything becomes scoped: from then on it has only its grants.
   */
  setRights(accessKey: string, change: RightsChange, allow: boolean): KeyInfo {
    this.db.transaction((tx) => this.change(tx, accessKey, change, allow));
    const info = this.list().find((k) => k.accessKey === accessKey);
    if (!info) throw new KeyError("no-key", `access key "${accessKey}" does not exist`);
    return info;
  }

  private change(tx: Tx, accessKey: string, change: RightsChange, allow: boolean): void {
    const key = tx.select().from(schema.accessKeys).where(eq(schema.accessKeys.accessKey, accessKey)).get();
    if (!key) throw new KeyError("no-key", `access key "${accessKey}" does not exist`);
    if (key.access === "root") throw new KeyError("root", "the root key always has full access");
    const set: Partial<KeyRow> = { access: "scoped" };
    if (change.createBucket) set.createBucket = allow;
    tx.update(schema.accessKeys).set(set).where(eq(schema.accessKeys.accessKey, accessKey)).run();
    const { bucket } = change;
    if (bucket === undefined) return;
    if (!tx.select().from(schema.buckets).where(eq(schema.buckets.name, bucket)).get()) throw new KeyError("no-bucket", `bucket "${bucket}" does not exist`);
    const where = and(eq(schema.bucketGrants.accessKey, accessKey), eq(schema.bucketGrants.bucket, bucket));
    const current = tx.select().from(schema.bucketGrants).where(where).get() ?? { ...noRights };
    const next = {
      read: change.read ? allow : current.read,
      write: change.write ? allow : current.write,
      owner: change.owner ? allow : current.owner,
    };
    tx.delete(schema.bucketGrants).where(where).run();
    if (next.read || next.write || next.owner) tx.insert(schema.bucketGrants).values({ bucket, accessKey, ...next }).run();
  }

  private openSecret(row: KeyRow): string {
    if (!row.secretSealed) return row.secretKey;
    try {
      return this.box.open(row.secretKey, row.accessKey);
    } catch {
      throw new Error(`the secret of access key ${row.accessKey} does not open with the secrets key file (was the file replaced?)`);
    }
  }
}
