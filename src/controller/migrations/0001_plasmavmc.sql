CREATE TABLE `images` (
	`name` text PRIMARY KEY NOT NULL,
	`id` text NOT NULL,
	`format` text NOT NULL,
	`virtual_size` integer NOT NULL,
	`artifact_size` integer NOT NULL,
	`sha256` text NOT NULL,
	`bucket` text NOT NULL,
	`key` text NOT NULL,
	`source` text NOT NULL,
	`base_volume` text,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `images_id_unique` ON `images` (`id`);--> statement-breakpoint
CREATE TABLE `managed_volumes` (
	`name` text PRIMARY KEY NOT NULL,
	`size_bytes` integer NOT NULL,
	`format` text NOT NULL,
	`image` text,
	`vm` text,
	`node` text,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `vms` (
	`name` text PRIMARY KEY NOT NULL,
	`id` text NOT NULL,
	`image` text NOT NULL,
	`cpus` integer NOT NULL,
	`memory_bytes` integer NOT NULL,
	`disks` text NOT NULL,
	`kernel` text,
	`initrd` text,
	`append` text,
	`network` text NOT NULL,
	`state` text NOT NULL,
	`node` text,
	`last_error` text,
	`created_at` integer NOT NULL,
	`started_at` integer,
	`attach_ms` integer
);
--> statement-breakpoint
CREATE UNIQUE INDEX `vms_id_unique` ON `vms` (`id`);