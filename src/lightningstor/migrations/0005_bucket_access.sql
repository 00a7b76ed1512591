CREATE TABLE `bucket_grants` (
	`bucket` text NOT NULL,
	`access_key` text NOT NULL,
	`read` integer NOT NULL,
	`write` integer NOT NULL,
	`owner` integer NOT NULL,
	PRIMARY KEY(`bucket`, `access_key`),
	FOREIGN KEY (`bucket`) REFERENCES `buckets`(`name`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`access_key`) REFERENCES `access_keys`(`access_key`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
ALTER TABLE `access_keys` ADD `secret_sealed` integer DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE `access_keys` ADD `access` text DEFAULT 'legacy' NOT NULL;--> statement-breakpoint
ALTER TABLE `access_keys` ADD `create_bucket` integer DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE `buckets` ADD `public_read` integer DEFAULT false NOT NULL;--> statement-breakpoint
-- Hand-added: the gateway has always named its root key "root"; every other existing key keeps full access ("legacy").
UPDATE `access_keys` SET `access` = 'root' WHERE `name` = 'root';
