ALTER TABLE `objects` ADD `upload_id` text;--> statement-breakpoint
ALTER TABLE `objects` ADD `part_sizes` text;