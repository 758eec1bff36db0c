"""Static music-gear data for the generator and for the emulator's reference endpoints.

Condition UUIDs are Reverb's [OFFICIAL-SPEC enum, API-NOTES 5.2]. Category UUIDs are ours: stable
uuid5 values under a fixed namespace, because no source lists Reverb's real category UUIDs; the full
names follow Reverb's "Parent / Child" style seen in the M1 and PrestaShop category reads.
"""

from __future__ import annotations

import uuid
from typing import NamedTuple

# ---- conditions ------------------------------------------------------------------------------------

BRAND_NEW = "7c3f45de-2ae0-4c81-8400-fdb6b1d74890"
B_STOCK = "9225283f-60c2-4413-ad18-1f5eba7a856f"
MINT_INVENTORY = "6db7df88-293b-4017-a1c1-cdb5e599fa1a"

# (uuid, request name, response display_name). Responses say "New" for Brand New [3P-LIVE sound-tank,
# API-NOTES 5.2]; the other display names match the request names.
CONDITIONS: tuple[tuple[str, str, str], ...] = (
    ("fbf35668-96a0-4baa-bcde-ab18d6b1b329", "Non Functioning", "Non Functioning"),
    ("6a9dfcad-600b-46c8-9e08-ce6e5057921e", "Poor", "Poor"),
    ("98777886-76d0-44c8-865e-bb40e669e934", "Fair", "Fair"),
    ("f7a3f48c-972a-44c6-b01a-0cd27488d3f6", "Good", "Good"),
    ("ae4d9114-1bd7-4ec5-a4ba-6653af5ac84d", "Very Good", "Very Good"),
    ("df268ad1-c462-4ba6-b6db-e007e23922ea", "Excellent", "Excellent"),
    ("ac5b9c1e-dc78-466d-b0b3-7cf712967a48", "Mint", "Mint"),
    (MINT_INVENTORY, "Mint (with inventory)", "Mint"),
    (B_STOCK, "B-Stock", "B-Stock"),
    (BRAND_NEW, "Brand New", "New"),
)
CONDITION_DISPLAY: dict[str, str] = {u: display for u, _, display in CONDITIONS}
# Older request form: the display-name string, e.g. "condition": "Brand New" [M1, API-NOTES 5.2].
CONDITION_BY_NAME: dict[str, str] = {name.lower(): u for u, name, _ in CONDITIONS}
# Only these may hold inventory > 1 and relist when inventory rises [compiled summary; EDOS, 5.4].
INVENTORY_CONDITIONS = frozenset({BRAND_NEW, B_STOCK, MINT_INVENTORY})
USED_CONDITIONS = tuple(u for u, _, _ in CONDITIONS if u not in INVENTORY_CONDITIONS)

# ---- categories ------------------------------------------------------------------------------------

_NS = uuid.UUID("5b0c6d0e-3f51-4b7e-9a4c-2f1d7a0e8b11")  # ours: any fixed namespace gives stable ids


def category_uuid(full_name: str) -> str:
    return str(uuid.uuid5(_NS, full_name))


# Parent -> children, in Reverb's naming style.
CATEGORY_TREE: dict[str, tuple[str, ...]] = {
    "Electric Guitars": ("Solid Body", "Semi-Hollow", "Hollow Body"),
    "Acoustic Guitars": ("Dreadnought", "Concert", "Jumbo"),
    "Bass Guitars": ("4-String", "5-String"),
    "Amps": ("Guitar Amps", "Bass Amps", "Guitar Cabinets"),
    "Effects and Pedals": ("Overdrive and Boost", "Distortion", "Delay", "Reverb", "Fuzz", "Tuner"),
    "Keyboards and Synths": ("Analog Synths", "Digital Synths", "Drum Machines", "Electric Pianos"),
    "Drums and Percussion": ("Snare Drums", "Acoustic Drums", "Cymbals"),
    "Pro Audio": ("Microphones", "Audio Interfaces", "Mixers"),
}


class Category(NamedTuple):
    uuid: str
    name: str
    full_name: str
    parent_uuid: str | None


CATEGORIES: tuple[Category, ...] = tuple(
    cat
    for parent, children in CATEGORY_TREE.items()
    for cat in (
        Category(category_uuid(parent), parent, parent, None),
        *(
            Category(category_uuid(f"{parent} / {c}"), c, f"{parent} / {c}", category_uuid(parent))
            for c in children
        ),
    )
)
CATEGORY_BY_UUID: dict[str, Category] = {c.uuid: c for c in CATEGORIES}
CATEGORY_BY_NAME: dict[str, Category] = {c.full_name: c for c in CATEGORIES}

# ---- products --------------------------------------------------------------------------------------


class Product(NamedTuple):
    make: str
    model: str
    category: str  # full name
    low: int  # typical used price range, USD
    high: int
    finishes: tuple[str, ...]
    years: tuple[str, ...]


_SB = "Electric Guitars / Solid Body"
_GUITAR_FINISHES = (
    "Sunburst",
    "3-Tone Sunburst",
    "Olympic White",
    "Black",
    "Candy Apple Red",
    "Natural",
    "Sonic Blue",
    "Cherry Sunburst",
)
_NEWISH = ("2018", "2019", "2020", "2021", "2022", "2023", "2024")
_VINTAGE = ("1962", "1965", "1972", "1978", "mid-70s", "late 70s", "1980s", "1990s")
_BLACK = ("Black",)
_NONE = ("",)

PRODUCTS: tuple[Product, ...] = (
    Product("Fender", "Stratocaster", _SB, 700, 2500, _GUITAR_FINISHES, _NEWISH + _VINTAGE),
    Product("Fender", "American Professional II Telecaster", _SB, 1200, 1800, _GUITAR_FINISHES, _NEWISH),
    Product(
        "Fender", "Jazz Bass", "Bass Guitars / 4-String", 800, 2200, _GUITAR_FINISHES, _NEWISH + _VINTAGE
    ),
    Product("Fender", "Precision Bass", "Bass Guitars / 4-String", 700, 2000, _GUITAR_FINISHES, _NEWISH),
    Product("Fender", "Twin Reverb", "Amps / Guitar Amps", 900, 2200, ("Silverface", "Blackface"), _VINTAGE),
    Product("Fender", "Blues Junior IV", "Amps / Guitar Amps", 450, 650, ("Tweed", "Black"), _NEWISH),
    Product(
        "Gibson",
        "Les Paul Standard",
        _SB,
        1800,
        4500,
        ("Heritage Cherry Sunburst", "Honeyburst", "Ebony", "Gold Top"),
        _NEWISH + _VINTAGE,
    ),
    Product("Gibson", "SG Standard", _SB, 1000, 1900, ("Heritage Cherry", "Ebony"), _NEWISH),
    Product(
        "Gibson", "ES-335", "Electric Guitars / Semi-Hollow", 2500, 5500, ("Vintage Burst", "Cherry"), _NEWISH
    ),
    Product(
        "Gibson", "J-45 Standard", "Acoustic Guitars / Jumbo", 2000, 3000, ("Vintage Sunburst",), _NEWISH
    ),
    Product("Epiphone", "Casino", "Electric Guitars / Hollow Body", 500, 800, ("Vintage Sunburst",), _NEWISH),
    Product("PRS", "Custom 24", _SB, 2500, 4500, ("Whale Blue", "Fire Red Burst", "Black Gold"), _NEWISH),
    Product(
        "Gretsch",
        "G6120 Chet Atkins",
        "Electric Guitars / Hollow Body",
        2000,
        3200,
        ("Orange Stain",),
        _NEWISH,
    ),
    Product(
        "Rickenbacker", "330", "Electric Guitars / Semi-Hollow", 1800, 2600, ("Fireglo", "Jetglo"), _NEWISH
    ),
    Product("Ibanez", "RG550", _SB, 700, 1100, ("Desert Sun Yellow", "Road Flare Red"), _NEWISH),
    Product("Martin", "D-28", "Acoustic Guitars / Dreadnought", 2300, 3500, ("Natural",), _NEWISH + _VINTAGE),
    Product("Martin", "000-15M", "Acoustic Guitars / Concert", 1100, 1500, ("Natural Mahogany",), _NEWISH),
    Product("Taylor", "814ce", "Acoustic Guitars / Concert", 3500, 4500, ("Natural",), _NEWISH),
    Product(
        "Guild", "D-55", "Acoustic Guitars / Dreadnought", 1800, 2800, ("Natural", "Antique Burst"), _NEWISH
    ),
    Product("Marshall", "JCM800 2203", "Amps / Guitar Amps", 1500, 2800, _BLACK, _VINTAGE),
    Product("Marshall", "1960A 4x12", "Amps / Guitar Cabinets", 700, 1400, _BLACK, _NEWISH + _VINTAGE),
    Product("Vox", "AC30C2", "Amps / Guitar Amps", 900, 1400, ("Black",), _NEWISH),
    Product("Ampeg", "SVT-CL", "Amps / Bass Amps", 1300, 2000, _BLACK, _NEWISH),
    Product("Boss", "DS-1 Distortion", "Effects and Pedals / Distortion", 30, 70, ("Orange",), _NEWISH),
    Product("Boss", "DD-8 Digital Delay", "Effects and Pedals / Delay", 120, 170, ("White",), _NEWISH),
    Product("Boss", "TU-3 Chromatic Tuner", "Effects and Pedals / Tuner", 60, 100, ("Green",), _NEWISH),
    Product(
        "Ibanez",
        "TS9 Tube Screamer",
        "Effects and Pedals / Overdrive and Boost",
        70,
        130,
        ("Green",),
        _NEWISH + _VINTAGE,
    ),
    Product("Electro-Harmonix", "Big Muff Pi", "Effects and Pedals / Fuzz", 60, 110, ("Silver",), _NEWISH),
    Product("Strymon", "BigSky", "Effects and Pedals / Reverb", 380, 480, ("Blue",), _NEWISH),
    Product("Walrus Audio", "Julia V2", "Effects and Pedals / Delay", 140, 200, ("Teal",), _NEWISH),
    Product(
        "Roland", "Juno-106", "Keyboards and Synths / Analog Synths", 1800, 3200, _NONE, ("1984", "1985")
    ),
    Product("Roland", "TR-808", "Keyboards and Synths / Drum Machines", 3500, 6000, _NONE, ("1981", "1982")),
    Product("Korg", "Minilogue XD", "Keyboards and Synths / Analog Synths", 450, 650, _NONE, _NEWISH),
    Product("Moog", "Subsequent 37", "Keyboards and Synths / Analog Synths", 1300, 1800, _NONE, _NEWISH),
    Product(
        "Sequential", "Prophet-5 Rev 4", "Keyboards and Synths / Analog Synths", 3500, 4500, _NONE, _NEWISH
    ),
    Product("Yamaha", "DX7", "Keyboards and Synths / Digital Synths", 500, 1000, _NONE, ("1983", "1985")),
    Product("Nord", "Stage 3 88", "Keyboards and Synths / Electric Pianos", 2500, 3500, ("Red",), _NEWISH),
    Product(
        "Ludwig",
        "Supraphonic LM402",
        "Drums and Percussion / Snare Drums",
        350,
        800,
        ("Chrome",),
        _NEWISH + _VINTAGE,
    ),
    Product(
        "Pearl",
        "Export 5-Piece Kit",
        "Drums and Percussion / Acoustic Drums",
        500,
        900,
        ("Jet Black", "Smokey Chrome"),
        _NEWISH,
    ),
    Product(
        "DW",
        "Collector's Series Kit",
        "Drums and Percussion / Acoustic Drums",
        2500,
        5000,
        ("Natural Lacquer",),
        _NEWISH,
    ),
    Product("Zildjian", 'K Custom Dark Ride 22"', "Drums and Percussion / Cymbals", 300, 450, _NONE, _NEWISH),
    Product("Shure", "SM7B", "Pro Audio / Microphones", 300, 400, _BLACK, _NEWISH),
    Product("Neumann", "U 87 Ai", "Pro Audio / Microphones", 2600, 3400, ("Nickel",), _NEWISH),
    Product("Universal Audio", "Apollo Twin X", "Pro Audio / Audio Interfaces", 700, 1100, _BLACK, _NEWISH),
    Product("Allen & Heath", "ZEDi-10", "Pro Audio / Mixers", 150, 250, _BLACK, _NEWISH),
    Product("Music Man", "StingRay 5", "Bass Guitars / 5-String", 1800, 2600, ("Vintage Sunburst",), _NEWISH),
)

# Shipping regions [shape: PrestaShop reads {shipping_regions: [{code, name, children}]}, API-NOTES 5.1];
# the codes US_CON and XX are from the spec's shipping rate examples, the rest are ours.
SHIPPING_REGIONS: tuple[dict, ...] = (
    {
        "code": "US",
        "name": "United States",
        "children": [
            {"code": "US_CON", "name": "Continental U.S.", "children": []},
            {"code": "US_AK", "name": "Alaska", "children": []},
            {"code": "US_HI", "name": "Hawaii", "children": []},
        ],
    },
    {"code": "CA", "name": "Canada", "children": []},
    {"code": "EUR_EU", "name": "European Union", "children": []},
    {"code": "GB", "name": "United Kingdom", "children": []},
    {"code": "XX", "name": "Everywhere Else", "children": []},
)

# Shipping providers the ship endpoint accepts and /shipping/providers lists: the spec's enum
# [OFFICIAL-SPEC, API-NOTES 7.2] plus sound-tank's extras [3P-LIVE], "Other" last.
SHIPPING_PROVIDERS: tuple[str, ...] = (
    "UPS",
    "USPS",
    "FedEx",
    "DHL Deutschland",
    "DHLExpress",
    "DHLGlobalMail",
    "DHL",
    "Canada Post",
    "Royal Mail",
    "PostNL",
    "Australia Post",
    "EMS",
    "La Poste",
    "China Post",
    "GLS",
    "Parcelforce",
    "Purolator",
    "Interlogistica",
    "Correos España",
    "Ukraine Post",
    "DPD Germany",
    "DPD UK",
    "DPD France",
    "CanPar",
    "La Poste - Colissimo",
    "Hermes",
    "TNT",
    "Other",
)
