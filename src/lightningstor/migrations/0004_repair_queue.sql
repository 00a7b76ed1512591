CREATE TABLE `repair_queue` (
	`chunk_id` text PRIMARY KEY NOT NULL,
	`reason` text NOT NULL,
	`queued_at` integer NOT NULL
);
