//! The horizontal grid of a gridded file and the reading of one field in
//! our point order, whatever the file's: latitude ascending (WeatherBench2)
//! or descending, longitudes from 0° or from −180°, latitude and longitude
//! dimensions in either order, or a `values` point dimension (Gaussian
//! grids, ring by ring north to south).

use std::ops::Range;

use anyhow::{bail, Context, Result};
use fastnet_mesh::Grid;

use super::store::{Store, StoreVar};

/// What a dimension of a gridded variable is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Role {
    Init,
    Lead,
    Level,
    Hour,
    DayOfYear,
    Lat,
    Lon,
    Points,
}

/// Coordinates closer than this (degrees) are the same.
const COORD_TOL_DEG: f64 = 1e-5;

/// A file's horizontal grid and how its rows and columns map to ours.
#[derive(Clone, Debug)]
pub(crate) struct Geometry {
    pub grid: Grid,
    /// `[nlat]` the file row of our row `r` (north to south); empty on a
    /// point grid.
    lat_rows: Vec<usize>,
    /// `[nlon]` the file column of our column `c` (0° eastward).
    lon_cols: Vec<usize>,
}

impl Geometry {
    /// The grid of `store` from its 1-D `lat_name`/`lon_name` coordinates,
    /// or, when `points_dim` is a dimension of the file, from per-point
    /// coordinates on it (a Gaussian grid).
    pub fn of(store: &Store, lat_name: &str, lon_name: &str, points_dim: &str) -> Result<Geometry> {
        let path = store.path.display();
        let lat = store.read_all_f64(lat_name)?;
        let lon = store.read_all_f64(lon_name)?;
        if store.has_dim(points_dim) {
            let grid = fastnet_data::scan::gaussian_grid_of(&store.path, &lat, &lon)?;
            return Ok(Geometry {
                grid,
                lat_rows: Vec::new(),
                lon_cols: Vec::new(),
            });
        }
        let nlat = lat.len();
        let descending = lat.windows(2).all(|w| w[1] < w[0]);
        let ascending = lat.windows(2).all(|w| w[1] > w[0]);
        if nlat < 2 || !(descending || ascending) {
            bail!("{path}: `{lat_name}` is not a monotonic axis of at least 2 latitudes");
        }
        let lat_rows: Vec<usize> = if descending {
            (0..nlat).collect()
        } else {
            (0..nlat).rev().collect()
        };
        let north = lat[lat_rows[0]];
        let poles = (north - 90.0).abs() < COORD_TOL_DEG;
        let grid =
            Grid::equiangular(nlat, lon.len(), poles).with_context(|| format!("{path}: grid"))?;
        let want = grid.latitudes_deg();
        if lat_rows
            .iter()
            .zip(&want)
            .any(|(&k, w)| (lat[k] - w).abs() > COORD_TOL_DEG)
        {
            bail!(
                "{path}: latitudes {:?} .. {:?} are not a global equiangular grid (expected {} .. {} in steps of {}°)",
                lat[0],
                lat[nlat - 1],
                want[0],
                want[nlat - 1],
                want[0] - want[1]
            );
        }
        // our columns start at 0° east; a file may start at −180° or anywhere
        let norm = |x: f64| {
            let y = x.rem_euclid(360.0);
            if 360.0 - y < COORD_TOL_DEG {
                0.0
            } else {
                y
            }
        };
        let mut lon_cols: Vec<usize> = (0..lon.len()).collect();
        lon_cols.sort_by(|&a, &b| norm(lon[a]).total_cmp(&norm(lon[b])));
        let want = grid.longitudes_deg();
        if lon_cols
            .iter()
            .zip(&want)
            .any(|(&k, w)| (norm(lon[k]) - w).abs() > COORD_TOL_DEG)
        {
            bail!(
                "{path}: longitudes are not a global circle of {} points every {}° (the file's start at {})",
                lon.len(),
                360.0 / lon.len() as f64,
                lon.first().copied().unwrap_or(f64::NAN)
            );
        }
        Ok(Geometry {
            grid,
            lat_rows,
            lon_cols,
        })
    }

    fn is_points(&self) -> bool {
        self.lat_rows.is_empty()
    }

    /// One field of `var` (`[npoints]`, our point order, physical units):
    /// the grid dimensions whole, every other dimension at the index
    /// `index(role)` gives. `roles` — one per dimension of `var`.
    pub fn read(
        &self,
        store: &Store,
        var: &StoreVar,
        roles: &[Role],
        index: impl Fn(Role) -> Option<usize>,
    ) -> Result<Vec<f32>> {
        let mut ranges: Vec<Range<usize>> = Vec::with_capacity(roles.len());
        if roles.len() != var.shape.len() || var.dims.len() != var.shape.len() {
            bail!(
                "{}: `{}` has {} dimensions; {} were expected",
                store.path.display(),
                var.name,
                var.shape.len(),
                roles.len()
            );
        }
        for (k, &r) in roles.iter().enumerate() {
            // Each grid dimension must have the coordinates' length (a
            // matching product alone could scramble or overrun the field).
            let want = match r {
                Role::Lat => Some(self.lat_rows.len()),
                Role::Lon => Some(self.lon_cols.len()),
                Role::Points => Some(self.grid.len()),
                _ => None,
            };
            if let Some(want) = want {
                if var.shape[k] != want {
                    bail!(
                        "{}: `{}`: dimension `{}` has length {}; the coordinates give {want}",
                        store.path.display(),
                        var.name,
                        var.dims[k],
                        var.shape[k]
                    );
                }
            }
            match r {
                Role::Lat | Role::Lon | Role::Points => ranges.push(0..var.shape[k]),
                _ => {
                    let i = index(r).with_context(|| {
                        format!(
                            "{}: `{}`: no index for dimension `{}`",
                            store.path.display(),
                            var.name,
                            var.dims[k]
                        )
                    })?;
                    if i >= var.shape[k] {
                        bail!(
                            "{}: `{}`: index {i} is outside dimension `{}` of length {}",
                            store.path.display(),
                            var.name,
                            var.dims[k],
                            var.shape[k]
                        );
                    }
                    ranges.push(i..i + 1);
                }
            }
        }
        let slab = store.read_f32(&var.name, &ranges)?;
        let n = self.grid.len();
        if slab.len() != n {
            bail!(
                "{}: `{}` holds {} values per field; the grid {} has {n}",
                store.path.display(),
                var.name,
                slab.len(),
                self.grid.describe()
            );
        }
        if self.is_points() {
            return Ok(slab);
        }
        // C-order strides of the slab (fixed dimensions have length 1)
        let sizes: Vec<usize> = ranges.iter().map(|r| r.end - r.start).collect();
        let stride = |role: Role| -> usize {
            let k = roles.iter().position(|&r| r == role).unwrap_or(0);
            sizes[k + 1..].iter().product()
        };
        let (s_lat, s_lon) = (stride(Role::Lat), stride(Role::Lon));
        let nlon = self.lon_cols.len();
        let identity = s_lon == 1
            && s_lat == nlon
            && self.lat_rows.iter().enumerate().all(|(i, &k)| i == k)
            && self.lon_cols.iter().enumerate().all(|(i, &k)| i == k);
        if identity {
            return Ok(slab);
        }
        let mut out = Vec::with_capacity(n);
        for &row in &self.lat_rows {
            out.extend(
                self.lon_cols
                    .iter()
                    .map(|&col| slab[row * s_lat + col * s_lon]),
            );
        }
        Ok(out)
    }
}

/// The roles of `var`'s dimensions by `role_of`, or why it is not a field
/// of this kind of file (a dimension `role_of` does not know, or a grid
/// dimension missing).
pub(crate) fn roles_of(
    var: &StoreVar,
    role_of: impl Fn(&str) -> Option<Role>,
    points: bool,
) -> std::result::Result<Vec<Role>, String> {
    let mut roles = Vec::new();
    for d in &var.dims {
        match role_of(d) {
            Some(r) => roles.push(r),
            None => return Err(format!("has dimension `{d}`")),
        }
    }
    let has = |r: Role| roles.contains(&r);
    let grid_ok = if points {
        has(Role::Points)
    } else {
        has(Role::Lat) && has(Role::Lon)
    };
    if !grid_ok {
        return Err("is not on the file's horizontal grid".into());
    }
    Ok(roles)
}
