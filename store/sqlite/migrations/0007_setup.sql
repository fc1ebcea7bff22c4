-- Provider apps, OAuth credentials and single-use set-up states (issue 4).
SELECT 1;
