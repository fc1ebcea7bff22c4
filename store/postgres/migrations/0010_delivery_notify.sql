-- Replicas wake each other: a delivery created pending (or made pending
-- again: a redelivery, a retry) notifies the channel when its transaction
-- commits, and every replica's engine claims at once instead of at its
-- next poll. PostgreSQL folds the identical notifications of one
-- transaction into one.
CREATE FUNCTION forgelink_deliveries_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('forgelink_deliveries', '');
    RETURN NULL;
END
$$;

CREATE TRIGGER deliveries_notify AFTER INSERT OR UPDATE OF state ON deliveries
    FOR EACH ROW WHEN (NEW.state = 'pending') EXECUTE FUNCTION forgelink_deliveries_notify();
