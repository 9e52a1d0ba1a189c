CREATE TABLE `provision_journal` (
	`host` text NOT NULL,
	`site` text NOT NULL,
	`kind` text NOT NULL,
	`operation_id` text,
	`site_dir` text NOT NULL,
	`steps` text NOT NULL,
	`args` text DEFAULT '{}' NOT NULL,
	`started_at` integer NOT NULL,
	PRIMARY KEY(`host`, `site`)
);
