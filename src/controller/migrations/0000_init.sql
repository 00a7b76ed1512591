CREATE TABLE `nodes` (
	`id` text PRIMARY KEY NOT NULL,
	`name` text NOT NULL,
	`advertise` text NOT NULL,
	`roles` text NOT NULL,
	`cpus` integer NOT NULL,
	`memory_bytes` integer NOT NULL,
	`disk_bytes` integer NOT NULL,
	`disk_free_bytes` integer NOT NULL,
	`agent_version` text NOT NULL,
	`state` text NOT NULL,
	`scheduling` text NOT NULL,
	`registered_at` integer NOT NULL,
	`last_heartbeat_at` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `nodes_name_unique` ON `nodes` (`name`);