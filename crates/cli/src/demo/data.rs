//! The demo's data: the year's calendar, the mines, the recyclers and the customers. Feed
//! compositions follow shared/reference/rare-earth-domain.md: Mt Weld (AU), Mountain Pass (US),
//! Serra Verde ionic clay (BR, rich in Dy/Tb), Steenkampskraal monazite (ZA), a Canadian
//! concentrate, one Chinese lot; NdFeB magnet scrap collected in Europe.

use ree_core::element::Element;
use ree_core::event::{MagnetCategory, ScrapClass};
use ree_core::{Country, UtcMicros};

/// 2025-01-06T08:00:00Z: the demo year starts on a Monday morning.
pub const YEAR_START: UtcMicros = UtcMicros(1_736_150_400_000_000);
pub const DAY_US: i64 = 86_400 * 1_000_000;
pub const TONNE: u64 = 1_000_000;

pub struct Mine {
    pub supplier: &'static str,
    pub site: &'static str,
    pub country: &'static str,
    pub reo_grade_ppm: u32,
    /// Element ppm of the concentrate's mass.
    pub assay: &'static [(Element, u32)],
    /// Tonnes a year.
    pub tonnes: u64,
}

use Element::*;

pub const MINES: &[Mine] = &[
    Mine {
        supplier: "Lynas Rare Earths",
        site: "Mt Weld, Western Australia",
        country: "AU",
        reo_grade_ppm: 380_000,
        tonnes: 1_300,
        assay: &[
            (La, 80_000),
            (Ce, 140_000),
            (Pr, 17_000),
            (Nd, 58_000),
            (Sm, 7_000),
            (Eu, 1_500),
            (Gd, 3_500),
            (Tb, 500),
            (Dy, 2_000),
            (Y, 3_000),
        ],
    },
    Mine {
        supplier: "MP Materials",
        site: "Mountain Pass, California",
        country: "US",
        reo_grade_ppm: 620_000,
        tonnes: 1_200,
        assay: &[
            (La, 160_000),
            (Ce, 250_000),
            (Pr, 22_000),
            (Nd, 62_000),
            (Sm, 4_000),
            (Gd, 1_000),
            (Dy, 200),
        ],
    },
    Mine {
        supplier: "Serra Verde",
        site: "Pela Ema, Goiás",
        country: "BR",
        reo_grade_ppm: 900_000,
        tonnes: 1_100,
        assay: &[
            (La, 150_000),
            (Ce, 20_000),
            (Pr, 40_000),
            (Nd, 140_000),
            (Sm, 30_000),
            (Gd, 40_000),
            (Tb, 12_000),
            (Dy, 80_000),
            (Y, 200_000),
        ],
    },
    Mine {
        supplier: "Steenkampskraal Mining",
        site: "Steenkampskraal, Western Cape",
        country: "ZA",
        reo_grade_ppm: 560_000,
        tonnes: 700,
        assay: &[
            (La, 110_000),
            (Ce, 230_000),
            (Pr, 25_000),
            (Nd, 90_000),
            (Sm, 10_000),
            (Gd, 8_000),
            (Tb, 500),
            (Dy, 2_500),
            (Y, 6_000),
        ],
    },
    Mine {
        supplier: "Saskatchewan Research Council",
        site: "Saskatoon, Saskatchewan",
        country: "CA",
        reo_grade_ppm: 550_000,
        tonnes: 500,
        assay: &[
            (La, 100_000),
            (Ce, 200_000),
            (Pr, 20_000),
            (Nd, 70_000),
            (Sm, 5_000),
            (Tb, 500),
            (Dy, 3_000),
        ],
    },
];

/// The one lot of Chinese origin, bought on the spot market; it goes into one campaign.
pub const CHINESE: Mine = Mine {
    supplier: "Baotou Trading Co.",
    site: "Bayan Obo, Inner Mongolia",
    country: "CN",
    reo_grade_ppm: 600_000,
    tonnes: 200,
    assay: &[
        (La, 140_000),
        (Ce, 250_000),
        (Pr, 25_000),
        (Nd, 80_000),
        (Sm, 5_000),
        (Dy, 1_000),
    ],
};

pub struct Recycler {
    pub name: &'static str,
    pub country: &'static str,
    pub category: MagnetCategory,
    pub scrap: ScrapClass,
    pub content: &'static [(Element, u32)],
    pub tonnes: u64,
}

pub const RECYCLERS: &[Recycler] = &[
    Recycler {
        name: "Carester Recyclage",
        country: "FR",
        category: MagnetCategory::EvMotor,
        scrap: ScrapClass::PostConsumer,
        tonnes: 600,
        content: &[(Nd, 225_000), (Pr, 70_000), (Dy, 25_000), (Tb, 4_000)],
    },
    Recycler {
        name: "HyProMag GmbH",
        country: "DE",
        category: MagnetCategory::HardDisk,
        scrap: ScrapClass::PostConsumer,
        tonnes: 400,
        content: &[(Nd, 240_000), (Pr, 60_000), (Dy, 8_000)],
    },
    Recycler {
        name: "Siemens Gamesa Circular",
        country: "ES",
        category: MagnetCategory::WindTurbine,
        scrap: ScrapClass::PostConsumer,
        tonnes: 400,
        content: &[(Nd, 230_000), (Pr, 65_000), (Dy, 12_000), (Tb, 1_000)],
    },
    Recycler {
        name: "Vacuumschmelze Scrap Return",
        country: "DE",
        category: MagnetCategory::IndustrialSwarf,
        scrap: ScrapClass::PreConsumer,
        tonnes: 400,
        content: &[(Nd, 235_000), (Pr, 68_000), (Dy, 15_000), (Tb, 2_000)],
    },
    Recycler {
        name: "Magneti Riciclati",
        country: "IT",
        category: MagnetCategory::ProductionReject,
        scrap: ScrapClass::PreConsumer,
        tonnes: 200,
        content: &[(Nd, 240_000), (Pr, 70_000), (Dy, 10_000)],
    },
];

pub const CUSTOMERS: &[(&str, &str)] = &[
    ("Vacuumschmelze GmbH", "DE"),
    ("Neo Performance Materials Narva", "EE"),
    ("Renault Ampere", "FR"),
    ("Safran Electrical & Power", "FR"),
    ("Solvay La Rochelle", "FR"),
];

/// The plant operator's participant name.
pub const PLANT: &str = "Caremag plant operations";

/// A country code of the tables above.
pub fn cc(s: &str) -> Country {
    // The demo's codes are constants from the assigned list.
    Country::parse(s).unwrap_or_else(|_| panic!("demo country code {s} must be valid"))
}
