CREATE TABLE "leases" (
	"name" text PRIMARY KEY NOT NULL,
	"holder" text NOT NULL,
	"expires_at" timestamp (3) with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "nodes" (
	"id" text PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"advertise" text NOT NULL,
	"roles" json NOT NULL,
	"cpus" integer NOT NULL,
	"memory_bytes" bigint NOT NULL,
	"disk_bytes" bigint NOT NULL,
	"disk_free_bytes" bigint NOT NULL,
	"agent_version" text NOT NULL,
	"state" text NOT NULL,
	"scheduling" text NOT NULL,
	"registered_at" timestamp (3) with time zone NOT NULL,
	"last_heartbeat_at" timestamp (3) with time zone NOT NULL,
	CONSTRAINT "nodes_name_unique" UNIQUE("name")
);
--> statement-breakpoint
CREATE TABLE "images" (
	"name" text PRIMARY KEY NOT NULL,
	"id" text NOT NULL,
	"format" text NOT NULL,
	"virtual_size" bigint NOT NULL,
	"artifact_size" bigint NOT NULL,
	"sha256" text NOT NULL,
	"bucket" text NOT NULL,
	"key" text NOT NULL,
	"source" text NOT NULL,
	"base_volume" text,
	"created_at" timestamp (3) with time zone NOT NULL,
	CONSTRAINT "images_id_unique" UNIQUE("id")
);
--> statement-breakpoint
CREATE TABLE "managed_volumes" (
	"name" text PRIMARY KEY NOT NULL,
	"size_bytes" bigint NOT NULL,
	"format" text NOT NULL,
	"image" text,
	"vm" text,
	"node" text,
	"created_at" timestamp (3) with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "vms" (
	"name" text PRIMARY KEY NOT NULL,
	"id" text NOT NULL,
	"image" text NOT NULL,
	"cpus" integer NOT NULL,
	"memory_bytes" bigint NOT NULL,
	"disks" json NOT NULL,
	"kernel" text,
	"initrd" text,
	"append" text,
	"network" text NOT NULL,
	"state" text NOT NULL,
	"node" text,
	"last_error" text,
	"created_at" timestamp (3) with time zone NOT NULL,
	"started_at" timestamp (3) with time zone,
	"attach_ms" integer,
	CONSTRAINT "vms_id_unique" UNIQUE("id")
);
