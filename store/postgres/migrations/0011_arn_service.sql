-- Issue 11: a resource's ARN keeps the service prefix of the API namespace
-- that created it. Rows from before had their ARN rendered in the namespace
-- of each request; they keep what codeconnections showed.
ALTER TABLE connections ADD COLUMN arn_service TEXT NOT NULL DEFAULT 'codeconnections';
ALTER TABLE hosts ADD COLUMN arn_service TEXT NOT NULL DEFAULT 'codeconnections';

-- The connections quota counts a home region's live connections.
CREATE INDEX connections_live_region ON connections (region) WHERE deleted_at IS NULL;
