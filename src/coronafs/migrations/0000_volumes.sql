CREATE TABLE `volumes` (
	`name` text PRIMARY KEY NOT NULL,
	`id` text NOT NULL,
	`format` text NOT NULL,
	`size_bytes` integer NOT NULL,
	`backing` text,
	`file` text NOT NULL,
	`read_only` integer DEFAULT false NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `volumes_id_unique` ON `volumes` (`id`);