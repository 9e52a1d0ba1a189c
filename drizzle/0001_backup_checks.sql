CREATE TABLE `backup_checks` (
	`site` text PRIMARY KEY NOT NULL,
	`path` text NOT NULL,
	`hosts` text NOT NULL,
	`state` text NOT NULL,
	`newest_at` integer,
	`size_bytes` integer,
	`newest_name` text,
	`checked_at` integer NOT NULL,
	`message` text
);
