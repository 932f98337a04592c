use super::*;

#[test]
fn write_read_round_trip_and_no_partial_files() {
    let _serial = crate::netcdf_serial();
    let dir = std::env::temp_dir().join(format!("fastnet-fcfile-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let set = ChannelSet::from_names(&["cos_lat"], &["z500", "z850", "t850", "t2m"]).unwrap();
    let grid = Grid::from_spec("latlon:30").unwrap(); // 7 x 12
    let layout = ForecastLayout {
        grid: grid.clone(),
        vars: vars_of(&set).unwrap(),
        init_times: vec![1_577_836_800, 1_577_858_400],
        lead_hours: vec![6, 12, 18],
        attributes: vec![("checkpoint".into(), "ckpt-00000010.json".into())],
    };
    let path = dir.join("fc.nc");
    let mut w = ForecastWriter::create(&path, layout.clone(), &set).unwrap();
    let value = |i: usize, l: usize, p: usize, c: usize| {
        (1000 * i + 100 * l + 10 * c) as f32 + p as f32 / 100.0
    };
    for i in 0..2 {
        for l in 0..3 {
            let s: Vec<f32> = (0..grid.len())
                .flat_map(|p| (0..4).map(move |c| value(i, l, p, c)))
                .collect();
            w.write(i, l, &s).unwrap();
        }
    }
    assert!(!path.exists(), "not visible before finish");
    w.finish().unwrap();
    let f = ForecastFile::open(&path).unwrap();
    assert_eq!(f.init_times, layout.init_times);
    assert_eq!(f.lead_hours, vec![6, 12, 18]);
    assert_eq!(f.levels, vec![500, 850]);
    assert_eq!(f.attributes["checkpoint"], "ckpt-00000010.json");
    assert_eq!(f.valid_time(1, 2), 1_577_858_400 + 18 * 3600);
    assert_eq!(f.channels.names(), ["z500", "z850", "t850", "t2m"]);
    let t850 = f.read("t", Some(850), 1, 2).unwrap();
    assert_eq!(t850[5], value(1, 2, 5, 2));
    let t500 = f.read("t", Some(500), 0, 0).unwrap_err().to_string();
    assert!(t500.contains("no level 500"), "{t500}");
    assert_eq!(f.read("t2m", None, 0, 1).unwrap()[0], value(0, 1, 0, 3));
    assert!(f
        .read("t", Some(300), 0, 0)
        .unwrap_err()
        .to_string()
        .contains("no level 300"));
    assert!(f.read("q", Some(850), 0, 0).is_err());

    // an unfinished writer leaves nothing
    let partial = dir.join("partial.nc");
    let mut w = ForecastWriter::create(&partial, layout, &set).unwrap();
    w.write(0, 0, &vec![0.0; grid.len() * 4]).unwrap();
    // the same state twice is still one of six
    w.write(0, 0, &vec![0.0; grid.len() * 4]).unwrap();
    assert!(w.write(2, 0, &vec![0.0; grid.len() * 4]).is_err());
    assert!(w.finish().unwrap_err().to_string().contains("only 1 of 6"));
    assert!(!partial.exists());
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
    if std::env::var_os("FASTNET_KEEP_TEST_OUTPUT").is_none() {
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

#[test]
fn octahedral_grid_round_trip_on_a_point_dimension() {
    let _serial = crate::netcdf_serial();
    let dir = std::env::temp_dir().join(format!("fastnet-fcfile-o-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let set = ChannelSet::from_names(&[], &["z500", "t2m"]).unwrap();
    let grid = Grid::from_spec("o8").unwrap();
    let layout = ForecastLayout {
        grid: grid.clone(),
        vars: vars_of(&set).unwrap(),
        init_times: vec![1_577_836_800],
        lead_hours: vec![6],
        attributes: vec![],
    };
    let path = dir.join("fc.nc");
    let mut w = ForecastWriter::create(&path, layout, &set).unwrap();
    let s: Vec<f32> = (0..grid.len() * 2).map(|k| k as f32).collect();
    w.write(0, 0, &s).unwrap();
    w.finish().unwrap();
    let f = ForecastFile::open(&path).unwrap();
    assert_eq!(f.grid, grid);
    let z = f.read("z", Some(500), 0, 0).unwrap();
    assert_eq!(z.len(), grid.len());
    assert_eq!((z[0], z[7]), (0.0, 14.0));
    assert_eq!(f.read("t2m", None, 0, 0).unwrap()[3], 7.0);
    drop(f);
    // coordinates that are not the named grid's are refused
    {
        let mut m = netcdf::append(&path).unwrap();
        let mut lat = m.variable_mut("latitude").unwrap();
        lat.put_values(&[10.0f64], 5..6).unwrap();
    }
    let e = format!("{:#}", ForecastFile::open(&path).err().unwrap());
    assert!(e.contains("latitude") && e.contains("ring"), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn every_format_and_layout_the_sink_writes_reads_back_the_same() {
    // ours and WeatherBench2's layout, NetCDF and Zarr: ForecastFile gives
    // the same grid, times, channels and fields (north to south) for each
    use crate::forecast::sink::{ForecastOutput, ForecastSink, OutputFormat, OutputLayout};
    let _serial = crate::netcdf_serial();
    let dir = std::env::temp_dir().join(format!("fastnet-fcfile-sink-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let set = ChannelSet::from_names(&[], &["z500", "t850", "z850", "u10", "t2m"]).unwrap();
    let grid = Grid::from_spec("latlon:30").unwrap(); // 7 x 12
    let layout = ForecastLayout {
        grid: grid.clone(),
        vars: vars_of(&set).unwrap(),
        init_times: vec![1_577_836_800, 1_577_880_000],
        lead_hours: vec![6, 24, 240],
        attributes: vec![],
    };
    let nc = set.n_forecast();
    let value = |i: usize, l: usize, p: usize, c: usize| {
        (1000 * i + 100 * l + 10 * c) as f32 + p as f32 / 100.0
    };
    for (format, kind, name) in [
        (OutputFormat::Netcdf, OutputLayout::Fastnet, "a.nc"),
        (OutputFormat::Zarr, OutputLayout::Fastnet, "a.zarr"),
        (OutputFormat::Netcdf, OutputLayout::Wb2, "w.nc"),
        (OutputFormat::Zarr, OutputLayout::Wb2, "w.zarr"),
    ] {
        let out = ForecastOutput {
            path: dir.join(name),
            format,
            layout: kind,
        };
        let mut w = ForecastSink::create(&out, layout.clone(), &set).unwrap();
        for i in 0..2 {
            for l in 0..3 {
                let s: Vec<f32> = (0..grid.len())
                    .flat_map(|p| (0..nc).map(move |c| value(i, l, p, c)))
                    .collect();
                w.write(i, l, &s).unwrap();
            }
        }
        w.finish().unwrap();
        let f = ForecastFile::open(&out.path).unwrap();
        let want_layout = match kind {
            OutputLayout::Fastnet => FileLayout::Fastnet,
            OutputLayout::Wb2 => FileLayout::WeatherBench2,
        };
        assert_eq!(f.layout, want_layout, "{name}");
        assert_eq!(f.grid, grid, "{name}");
        assert_eq!(f.init_times, layout.init_times, "{name}");
        assert_eq!(f.lead_hours, layout.lead_hours, "{name}");
        assert!(f.ignored.is_empty(), "{name}: {:?}", f.ignored);
        let mut names = f.channels.names().to_vec();
        names.sort();
        assert_eq!(names, ["t2m", "t850", "u10", "z500", "z850"], "{name}");
        for (c, ch) in set.forecast().iter().enumerate() {
            let (var, level) = ch.field().unwrap();
            for (i, l) in [(0, 0), (1, 2)] {
                let got = f.read(var, level, i, l).unwrap();
                let want: Vec<f32> = (0..grid.len()).map(|p| value(i, l, p, c)).collect();
                assert_eq!(got, want, "{name} {} ({i}, {l})", ch.name);
            }
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
