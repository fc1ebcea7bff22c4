-- Repository links and the webhooks forgelink registered (issue 4).
SELECT 1;
