CREATE TABLE `maintenance_windows` (
	`id` text PRIMARY KEY NOT NULL,
	`host` text NOT NULL,
	`site` text,
	`cron` text NOT NULL,
	`duration_ms` integer NOT NULL,
	`reason` text,
	`by_name` text NOT NULL,
	`created_at` integer NOT NULL,
	`open_until` integer,
	`removed_at` integer
);
--> statement-breakpoint
CREATE TABLE `schedules` (
	`id` text PRIMARY KEY NOT NULL,
	`cron` text NOT NULL,
	`command_line` text NOT NULL,
	`by_platform` text NOT NULL,
	`by_id` text NOT NULL,
	`by_name` text NOT NULL,
	`created_at` integer NOT NULL,
	`last_run_at` integer,
	`removed_at` integer
);
