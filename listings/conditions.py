"""Reverb's listing conditions (API-NOTES 5.2): plain data, read by the model's indexes, the editing rules,
the forms and the exports alike."""

# API-NOTES 5.2: only these conditions hold quantity > 1 (Brand New, B-Stock, Mint (with inventory)).
BRAND_NEW = "7c3f45de-2ae0-4c81-8400-fdb6b1d74890"
B_STOCK = "9225283f-60c2-4413-ad18-1f5eba7a856f"
MINT_INVENTORY = "6db7df88-293b-4017-a1c1-cdb5e599fa1a"
INVENTORY_CONDITIONS = frozenset({BRAND_NEW, B_STOCK, MINT_INVENTORY})
# The spec's enum (API-NOTES 5.2), the fallback when Reverb's /listing_conditions cannot be read.
CONDITIONS: tuple[tuple[str, str], ...] = (
    ("fbf35668-96a0-4baa-bcde-ab18d6b1b329", "Non Functioning"),
    ("6a9dfcad-600b-46c8-9e08-ce6e5057921e", "Poor"),
    ("98777886-76d0-44c8-865e-bb40e669e934", "Fair"),
    ("f7a3f48c-972a-44c6-b01a-0cd27488d3f6", "Good"),
    ("ae4d9114-1bd7-4ec5-a4ba-6653af5ac84d", "Very Good"),
    ("df268ad1-c462-4ba6-b6db-e007e23922ea", "Excellent"),
    ("ac5b9c1e-dc78-466d-b0b3-7cf712967a48", "Mint"),
    (MINT_INVENTORY, "Mint (with inventory)"),
    (B_STOCK, "B-Stock"),
    (BRAND_NEW, "Brand New"),
)
# Their names, as the mirror stores them (`condition_name`): the changelist's filter and its index.
CONDITION_NAMES = tuple(name for _, name in CONDITIONS)
