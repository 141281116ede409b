-- Rendered captures: where the screenshot and the rendered DOM lie as
-- evidence objects ('' for static captures), and the listing that static
-- extraction found before the page was rendered (JSON, NULL when none), to
-- show beside the rendered one. How a capture was fetched (mode and
-- mode_reason) is part of the capture's meta.
ALTER TABLE captures ADD COLUMN screenshot_key TEXT NOT NULL DEFAULT '';
ALTER TABLE captures ADD COLUMN dom_key TEXT NOT NULL DEFAULT '';
ALTER TABLE captures ADD COLUMN static_listing TEXT;
