CREATE TABLE `access_keys` (
	`access_key` text PRIMARY KEY NOT NULL,
	`secret_key` text NOT NULL,
	`name` text NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `buckets` (
	`name` text PRIMARY KEY NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `objects` (
	`bucket` text NOT NULL,
	`key` text NOT NULL,
	`size` integer NOT NULL,
	`etag` text NOT NULL,
	`chunks` text NOT NULL,
	`headers` text NOT NULL,
	`checksums` text NOT NULL,
	`last_modified` integer NOT NULL,
	PRIMARY KEY(`bucket`, `key`),
	FOREIGN KEY (`bucket`) REFERENCES `buckets`(`name`) ON UPDATE no action ON DELETE no action
);
