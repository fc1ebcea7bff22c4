-- The single-node store's deliveries belong to the one process that has
-- the file open (its lock): the delivery engine is handed them in memory
-- as they commit, and every open one at start through deliveries_state.
-- The indexes claims read cost every delivery's insert and each state
-- change a page write, for nothing.
DROP INDEX deliveries_due;
DROP INDEX deliveries_leases;
DROP INDEX deliveries_queue;
DROP INDEX deliveries_groups;
