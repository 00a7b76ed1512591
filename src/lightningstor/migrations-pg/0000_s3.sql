CREATE TABLE "access_keys" (
	"access_key" text PRIMARY KEY NOT NULL,
	"secret_key" text NOT NULL,
	"secret_sealed" boolean DEFAULT false NOT NULL,
	"name" text NOT NULL,
	"created_at" timestamp (3) with time zone NOT NULL,
	"access" text DEFAULT 'legacy' NOT NULL,
	"create_bucket" boolean DEFAULT false NOT NULL
);
--> statement-breakpoint
CREATE TABLE "bucket_grants" (
	"bucket" text COLLATE "C" NOT NULL,
	"access_key" text NOT NULL,
	"read" boolean NOT NULL,
	"write" boolean NOT NULL,
	"owner" boolean NOT NULL,
	CONSTRAINT "bucket_grants_bucket_access_key_pk" PRIMARY KEY("bucket","access_key")
);
--> statement-breakpoint
CREATE TABLE "buckets" (
	"name" text COLLATE "C" PRIMARY KEY NOT NULL,
	"created_at" timestamp (3) with time zone NOT NULL,
	"public_read" boolean DEFAULT false NOT NULL
);
--> statement-breakpoint
CREATE TABLE "leases" (
	"name" text PRIMARY KEY NOT NULL,
	"holder" text NOT NULL,
	"expires_at" timestamp (3) with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "objects" (
	"bucket" text COLLATE "C" NOT NULL,
	"key" text COLLATE "C" NOT NULL,
	"size" bigint NOT NULL,
	"etag" text NOT NULL,
	"chunks" json NOT NULL,
	"headers" json NOT NULL,
	"checksums" json NOT NULL,
	"last_modified" timestamp (3) with time zone NOT NULL,
	"upload_id" text,
	"part_sizes" json,
	CONSTRAINT "objects_bucket_key_pk" PRIMARY KEY("bucket","key")
);
--> statement-breakpoint
CREATE TABLE "parts" (
	"upload_id" text NOT NULL,
	"part_number" integer NOT NULL,
	"size" bigint NOT NULL,
	"etag" text NOT NULL,
	"chunks" json NOT NULL,
	"checksums" json DEFAULT '{}'::json NOT NULL,
	"last_modified" timestamp (3) with time zone NOT NULL,
	CONSTRAINT "parts_upload_id_part_number_pk" PRIMARY KEY("upload_id","part_number")
);
--> statement-breakpoint
CREATE TABLE "repair_queue" (
	"chunk_id" text PRIMARY KEY NOT NULL,
	"reason" text NOT NULL,
	"queued_at" timestamp (3) with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "uploads" (
	"id" text PRIMARY KEY NOT NULL,
	"bucket" text COLLATE "C" NOT NULL,
	"key" text COLLATE "C" NOT NULL,
	"headers" json NOT NULL,
	"created_at" timestamp (3) with time zone NOT NULL
);
--> statement-breakpoint
ALTER TABLE "bucket_grants" ADD CONSTRAINT "bucket_grants_bucket_buckets_name_fk" FOREIGN KEY ("bucket") REFERENCES "public"."buckets"("name") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "bucket_grants" ADD CONSTRAINT "bucket_grants_access_key_access_keys_access_key_fk" FOREIGN KEY ("access_key") REFERENCES "public"."access_keys"("access_key") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "objects" ADD CONSTRAINT "objects_bucket_buckets_name_fk" FOREIGN KEY ("bucket") REFERENCES "public"."buckets"("name") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "parts" ADD CONSTRAINT "parts_upload_id_uploads_id_fk" FOREIGN KEY ("upload_id") REFERENCES "public"."uploads"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "uploads" ADD CONSTRAINT "uploads_bucket_buckets_name_fk" FOREIGN KEY ("bucket") REFERENCES "public"."buckets"("name") ON DELETE no action ON UPDATE no action;