CREATE TABLE `history_buckets` (
	`host` text NOT NULL,
	`site` text NOT NULL,
	`series` text NOT NULL,
	`res` integer NOT NULL,
	`start` integer NOT NULL,
	`n` integer NOT NULL,
	`ok_n` integer NOT NULL,
	`sum` real NOT NULL,
	`max` real,
	`p50` real,
	`p95` real,
	PRIMARY KEY(`host`, `site`, `series`, `res`, `start`)
);
--> statement-breakpoint
CREATE INDEX `history_buckets_res_start_idx` ON `history_buckets` (`res`,`start`);--> statement-breakpoint
CREATE INDEX `history_buckets_series_idx` ON `history_buckets` (`series`,`res`,`start`);--> statement-breakpoint
CREATE TABLE `history_points` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`host` text NOT NULL,
	`site` text NOT NULL,
	`series` text NOT NULL,
	`at` integer NOT NULL,
	`value` real,
	`ok` integer,
	`status` integer,
	`error` text
);
--> statement-breakpoint
CREATE INDEX `history_points_series_at_idx` ON `history_points` (`host`,`site`,`series`,`at`);--> statement-breakpoint
CREATE INDEX `history_points_at_idx` ON `history_points` (`at`);--> statement-breakpoint
CREATE TABLE `history_states` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`host` text NOT NULL,
	`site` text NOT NULL,
	`at` integer NOT NULL,
	`state` text NOT NULL,
	`note` text
);
--> statement-breakpoint
CREATE INDEX `history_states_site_at_idx` ON `history_states` (`host`,`site`,`at`);--> statement-breakpoint
CREATE INDEX `history_states_at_idx` ON `history_states` (`at`);