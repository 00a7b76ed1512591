CREATE TABLE `parts` (
	`upload_id` text NOT NULL,
	`part_number` integer NOT NULL,
	`size` integer NOT NULL,
	`etag` text NOT NULL,
	`chunks` text NOT NULL,
	`last_modified` integer NOT NULL,
	PRIMARY KEY(`upload_id`, `part_number`),
	FOREIGN KEY (`upload_id`) REFERENCES `uploads`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE TABLE `uploads` (
	`id` text PRIMARY KEY NOT NULL,
	`bucket` text NOT NULL,
	`key` text NOT NULL,
	`headers` text NOT NULL,
	`created_at` integer NOT NULL,
	FOREIGN KEY (`bucket`) REFERENCES `buckets`(`name`) ON UPDATE no action ON DELETE no action
);
