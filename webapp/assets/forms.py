"""Assets has no WTForms forms yet: search is a plain GET form and add-from-DMS posts a
DMS id with the CSRF token (see templates/assets/index.html)."""
