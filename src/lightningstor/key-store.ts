import { and, asc, eq, sql } from "drizzle-orm";
import type { Db, StoreDb } from "../db/store-db.ts";
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

type Tx = Db<typeof schema>;

/** What `principalOf` asks about one request's key, loaded before it asks (keyView). */
export interface KeyView {
  accessOf(accessKey: string): { access: KeyAccess; createBucket: boolean } | undefined;
  grantOn(accessKey: string, bucket: string): BucketRights;
  isPublic(bucket: string): boolean;
}

/** One request's key lookups (KeyStore.forRequest). */
export interface RequestKeys {
  /** The secret the request's signature is checked with; undefined when the key is unknown. */
  secretFor(accessKey: string): Promise<string | undefined>;
  /** What the request's principal may do (no key: anonymous). */
  keyView(accessKey: string | undefined): Promise<KeyView>;
}

/**
 * The access keys of a gateway and their rights, in its metadata database.
 * Secrets are stored sealed (SecretBox) and opened per request; the key
 * lookup every request makes is prepared once.
 */
export class KeyStore {
  private readonly lookups;

  constructor(
    private readonly store: StoreDb<typeof schema>,
    private readonly box: SecretBox,
  ) {
    const { accessKeys } = this.tables;
    this.lookups = {
      key: store.lookup("photon_key", store.db.select().from(accessKeys).where(eq(accessKeys.accessKey, sql.placeholder("key")))),
    };
  }

  private get db() {
    return this.store.db;
  }

  /** The tables of the store's engine (store-db.ts). */
  private get tables() {
    return this.store.tables;
  }

  /**
   * Seals the secrets of rows written before secrets were sealed, and checks
   * that the sealed ones open (a wrong key file is found at start, not per request).
   */
  sealStored(): Promise<{ sealed: number }> {
    return this.store.transaction(async (tx) => {
      let sealed = 0;
      for (const row of await tx.select().from(this.tables.accessKeys)) {
        if (row.secretSealed) {
          this.openSecret(row);
          continue;
        }
        await tx
          .update(this.tables.accessKeys)
          .set({ secretKey: this.box.seal(row.secretKey, row.accessKey), secretSealed: true })
          .where(eq(this.tables.accessKeys.accessKey, row.accessKey));
        sealed++;
      }
      return { sealed };
    });
  }

  /** The secret of an access key; undefined when the key is unknown. */
  async secretFor(accessKey: string): Promise<string | undefined> {
    const row = await this.lookups.key({ key: accessKey });
    return row && this.openSecret(row);
  }

  /**
   * One request's key lookups: the secret its signature is checked with, then
   * what its principal may do, from one read of the key's row.
   */
  forRequest(): RequestKeys {
    const rows = new Map<string, Promise<KeyRow | undefined>>();
    const row = (key: string) => rows.get(key) ?? rows.set(key, this.lookups.key({ key })).get(key)!;
    return {
      secretFor: async (key) => {
        const found = await row(key);
        return found && this.openSecret(found);
      },
      keyView: async (key) => this.viewOf(key === undefined ? undefined : await row(key)),
    };
  }

  /**
   * What one request's principal needs to know, read once: the key's access,
   * and for a scoped key or an anonymous request its grants and the public buckets.
   */
  private async viewOf(row: KeyRow | undefined): Promise<KeyView> {
    const full = row?.access === "root" || row?.access === "legacy";
    const { bucketGrants, buckets } = this.tables;
    const grants = row && !full ? await this.db.select().from(bucketGrants).where(eq(bucketGrants.accessKey, row.accessKey)) : [];
    const publicBuckets = full ? [] : await this.db.select({ name: buckets.name }).from(buckets).where(eq(buckets.publicRead, true));
    const publicNames = new Set(publicBuckets.map((b) => b.name));
    return {
      accessOf: () => row && { access: row.access, createBucket: row.createBucket },
      grantOn: (_key, bucket) => grants.find((g) => g.bucket === bucket) ?? noRights,
      isPublic: (bucket) => publicNames.has(bucket),
    };
  }

  /** Every key in creation order, with its grants (no secrets). */
  async list(): Promise<KeyInfo[]> {
    const grants = await this.db.select().from(this.tables.bucketGrants).orderBy(asc(this.tables.bucketGrants.bucket));
    const keys = await this.db.select().from(this.tables.accessKeys).orderBy(asc(this.tables.accessKeys.createdAt));
    return keys.map(({ secretKey: _secret, secretSealed: _sealed, ...key }) => ({
        ...key,
        grants: grants.filter((g) => g.accessKey === key.accessKey).map(({ accessKey: _key, ...grant }) => grant),
      }));
  }

  /** Adds a scoped key with its rights, in one transaction; a grant on a missing bucket is a KeyError. */
  addScoped(accessKey: string, secretKey: string, name: string, rights: { createBucket: boolean; grants: (BucketRights & { bucket: string })[] }): Promise<void> {
    return this.store.transaction(async (tx) => {
      await tx
        .insert(this.tables.accessKeys)
        .values({ accessKey, secretKey: this.box.seal(secretKey, accessKey), secretSealed: true, name, createdAt: new Date(), access: "scoped", createBucket: rights.createBucket });
      for (const grant of rights.grants) await this.change(tx, accessKey, { ...grant }, true);
    });
  }

  /** Makes `accessKey` a root key with this secret (added when missing). */
  async ensureRoot(accessKey: string, secretKey: string): Promise<void> {
    const sealed = { secretKey: this.box.seal(secretKey, accessKey), secretSealed: true, access: "root" as const };
    await this.store.write((db) =>
      db
        .insert(this.tables.accessKeys)
        .values({ accessKey, name: "root", createdAt: new Date(), createBucket: true, ...sealed })
        .onConflictDoUpdate({ target: this.tables.accessKeys.accessKey, set: sealed }),
    );
  }

  /** Removes a key and its grants; false when there was none. */
  async delete(accessKey: string): Promise<boolean> {
    const removed = await this.store.write((db) => db.delete(this.tables.accessKeys).where(eq(this.tables.accessKeys.accessKey, accessKey)).returning());
    return removed.length > 0;
  }

  /**
   * Gives (allow) or takes (deny) rights. A legacy key that is given or
   * denied anything becomes scoped: from then on it has only its grants.
   */
  async setRights(accessKey: string, change: RightsChange, allow: boolean): Promise<KeyInfo> {
    await this.store.transaction((tx) => this.change(tx, accessKey, change, allow));
    const info = (await this.list()).find((k) => k.accessKey === accessKey);
    if (!info) throw new KeyError("no-key", `access key "${accessKey}" does not exist`);
    return info;
  }

  private async change(tx: Tx, accessKey: string, change: RightsChange, allow: boolean): Promise<void> {
    const [key] = await tx.select().from(this.tables.accessKeys).where(eq(this.tables.accessKeys.accessKey, accessKey));
    if (!key) throw new KeyError("no-key", `access key "${accessKey}" does not exist`);
    if (key.access === "root") throw new KeyError("root", "the root key always has full access");
    const set: Partial<KeyRow> = { access: "scoped" };
    if (change.createBucket) set.createBucket = allow;
    await tx.update(this.tables.accessKeys).set(set).where(eq(this.tables.accessKeys.accessKey, accessKey));
    const { bucket } = change;
    if (bucket === undefined) return;
    if ((await tx.select().from(this.tables.buckets).where(eq(this.tables.buckets.name, bucket))).length === 0) throw new KeyError("no-bucket", `bucket "${bucket}" does not exist`);
    const where = and(eq(this.tables.bucketGrants.accessKey, accessKey), eq(this.tables.bucketGrants.bucket, bucket));
    const [current = { ...noRights }] = await tx.select().from(this.tables.bucketGrants).where(where);
    const next = {
      read: change.read ? allow : current.read,
      write: change.write ? allow : current.write,
      owner: change.owner ? allow : current.owner,
    };
    await tx.delete(this.tables.bucketGrants).where(where);
    if (next.read || next.write || next.owner) await tx.insert(this.tables.bucketGrants).values({ bucket, accessKey, ...next });
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
