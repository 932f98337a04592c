//! How a graph is built: mesh level and the grid -> mesh / mesh -> grid rules.

use serde::{Deserialize, Serialize};

use crate::error::{MeshError, Result};
use crate::icosahedron::MAX_LEVEL;

/// Largest `k` accepted for nearest-neighbour rules.
pub const MAX_K: usize = 64;

/// Which mesh nodes each grid point sends to (encoder edges).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "rule", rename_all = "snake_case", deny_unknown_fields)]
pub enum GridToMesh {
    /// Every mesh node within `fraction × (longest edge of the finest mesh)`
    /// chord distance (GraphCast: 0.6).
    Radius { fraction: f64 },
    /// The `k` nearest mesh nodes (FastNet: 2).
    Nearest { k: usize },
}

/// Which mesh nodes each grid point receives from (decoder edges).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "rule", rename_all = "snake_case", deny_unknown_fields)]
pub enum MeshToGrid {
    /// The 3 vertices of the finest-mesh triangle containing the point
    /// (GraphCast).
    Triangle,
    /// The `k` nearest mesh nodes (FastNet: 3).
    Nearest { k: usize },
}

/// Graph build parameters. The default is FastNet's: level 5, 2 nearest mesh
/// nodes per grid point in the encoder, 3 in the decoder.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GraphConfig {
    /// Icosahedron refinement level of the finest mesh, `0..=8`.
    pub mesh_level: u32,
    pub grid_to_mesh: GridToMesh,
    pub mesh_to_grid: MeshToGrid,
}

impl Default for GraphConfig {
    fn default() -> Self {
        GraphConfig::fastnet(5)
    }
}

impl GraphConfig {
    /// FastNet's rules: k = 2 nearest (encoder), k = 3 nearest (decoder).
    pub fn fastnet(mesh_level: u32) -> Self {
        GraphConfig {
            mesh_level,
            grid_to_mesh: GridToMesh::Nearest { k: 2 },
            mesh_to_grid: MeshToGrid::Nearest { k: 3 },
        }
    }

    /// GraphCast's rules: radius 0.6 × longest finest-mesh edge (encoder),
    /// containing triangle (decoder).
    pub fn graphcast(mesh_level: u32) -> Self {
        GraphConfig {
            mesh_level,
            grid_to_mesh: GridToMesh::Radius { fraction: 0.6 },
            mesh_to_grid: MeshToGrid::Triangle,
        }
    }

    /// Checks every field; the error names the field, its value and the
    /// accepted range.
    pub fn validate(&self) -> Result<()> {
        if self.mesh_level > MAX_LEVEL {
            return Err(MeshError::BadConfig {
                field: "mesh_level",
                value: self.mesh_level.to_string(),
                expected: format!("a refinement level in 0..={MAX_LEVEL}"),
            });
        }
        match self.grid_to_mesh {
            GridToMesh::Radius { fraction } if !(fraction.is_finite() && fraction > 0.0) => {
                return Err(MeshError::BadConfig {
                    field: "grid_to_mesh.fraction",
                    value: fraction.to_string(),
                    expected:
                        "a positive finite multiple of the longest mesh edge (GraphCast: 0.6)"
                            .into(),
                })
            }
            GridToMesh::Nearest { k } => check_k("grid_to_mesh.k", k)?,
            _ => {}
        }
        if let MeshToGrid::Nearest { k } = self.mesh_to_grid {
            check_k("mesh_to_grid.k", k)?;
        }
        Ok(())
    }
}

impl std::str::FromStr for GridToMesh {
    type Err = MeshError;

    /// `radius:FRACTION` (GraphCast: `radius:0.6`) or `nearest:K` (FastNet:
    /// `nearest:2`).
    fn from_str(s: &str) -> Result<Self> {
        let bad = || MeshError::BadConfig {
            field: "grid_to_mesh",
            value: format!("{s:?}"),
            expected: "radius:FRACTION (GraphCast radius:0.6) or nearest:K (FastNet nearest:2)"
                .into(),
        };
        let rule = match s.split_once(':') {
            Some(("radius", f)) => GridToMesh::Radius {
                fraction: f.parse().map_err(|_| bad())?,
            },
            Some(("nearest", k)) => GridToMesh::Nearest {
                k: k.parse().map_err(|_| bad())?,
            },
            _ => return Err(bad()),
        };
        Ok(rule)
    }
}

impl std::str::FromStr for MeshToGrid {
    type Err = MeshError;

    /// `triangle` (GraphCast) or `nearest:K` (FastNet: `nearest:3`).
    fn from_str(s: &str) -> Result<Self> {
        let bad = || MeshError::BadConfig {
            field: "mesh_to_grid",
            value: format!("{s:?}"),
            expected: "triangle (GraphCast) or nearest:K (FastNet nearest:3)".into(),
        };
        match s.split_once(':') {
            None if s == "triangle" => Ok(MeshToGrid::Triangle),
            Some(("nearest", k)) => Ok(MeshToGrid::Nearest {
                k: k.parse().map_err(|_| bad())?,
            }),
            _ => Err(bad()),
        }
    }
}

impl std::fmt::Display for GridToMesh {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            GridToMesh::Radius { fraction } => write!(f, "radius:{fraction}"),
            GridToMesh::Nearest { k } => write!(f, "nearest:{k}"),
        }
    }
}

impl std::fmt::Display for MeshToGrid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MeshToGrid::Triangle => write!(f, "triangle"),
            MeshToGrid::Nearest { k } => write!(f, "nearest:{k}"),
        }
    }
}

fn check_k(field: &'static str, k: usize) -> Result<()> {
    if (1..=MAX_K).contains(&k) {
        Ok(())
    } else {
        Err(MeshError::BadConfig {
            field,
            value: k.to_string(),
            expected: format!("a neighbour count in 1..={MAX_K}"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_round_trips_through_json_and_rejects_unknown_keys() {
        let c = GraphConfig::graphcast(6);
        let s = serde_json::to_string(&c).unwrap();
        assert_eq!(serde_json::from_str::<GraphConfig>(&s).unwrap(), c);
        assert!(
            serde_json::from_str::<GraphConfig>(r#"{"mesh_level": 3, "mesh_levle": 4}"#).is_err()
        );
        let d: GraphConfig = serde_json::from_str(r#"{"mesh_level": 3}"#).unwrap();
        assert_eq!(d, GraphConfig::fastnet(3));
    }

    #[test]
    fn rules_parse_from_and_print_to_the_command_line_form() {
        for s in ["radius:0.6", "nearest:2"] {
            assert_eq!(s.parse::<GridToMesh>().unwrap().to_string(), s);
        }
        for s in ["triangle", "nearest:3"] {
            assert_eq!(s.parse::<MeshToGrid>().unwrap().to_string(), s);
        }
        assert!("radius".parse::<GridToMesh>().is_err());
        assert!("nearest:two".parse::<GridToMesh>().is_err());
        let e = "square".parse::<MeshToGrid>().unwrap_err().to_string();
        assert!(e.contains("mesh_to_grid") && e.contains("triangle"), "{e}");
    }

    #[test]
    fn bad_values_name_the_field() {
        let mut c = GraphConfig::fastnet(9);
        assert!(c.validate().unwrap_err().to_string().contains("mesh_level"));
        c.mesh_level = 2;
        c.grid_to_mesh = GridToMesh::Nearest { k: 0 };
        assert!(c
            .validate()
            .unwrap_err()
            .to_string()
            .contains("grid_to_mesh.k"));
        c.grid_to_mesh = GridToMesh::Radius { fraction: -0.6 };
        assert!(c
            .validate()
            .unwrap_err()
            .to_string()
            .contains("grid_to_mesh.fraction"));
        c.grid_to_mesh = GridToMesh::Radius { fraction: 0.6 };
        c.mesh_to_grid = MeshToGrid::Nearest { k: 1000 };
        assert!(c
            .validate()
            .unwrap_err()
            .to_string()
            .contains("mesh_to_grid.k"));
        c.mesh_to_grid = MeshToGrid::Triangle;
        c.validate().unwrap();
    }
}
