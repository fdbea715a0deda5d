"""Rebuild this folder from ``../shared/data`` (run once by a maintainer, not at run time).

Usage: ``python maps/data/kumamoto/build_data.py /path/to/shared/data``

Copies the Kumamoto roads, the five GTFS-JP feeds and the hospital GeoJSON unchanged;
trims the census mesh CSV to the cells that intersect the OSM data's bounding box (header
rows and CP932 bytes kept as e-Stat wrote them); clips the Kumamoto DID polygons to the
bounding box grown by 0.1 degree; keeps only the Kumamoto Airport polygons of the C28 file.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import geopandas as gpd
import osmium
from shapely.geometry import box

HERE = Path(__file__).resolve().parent
OSM = "japan-kumamoto-osm/kumamoto_chuo_highways_2023-01.osm.bz2"
GTFS = [
    "toshibus.gtfs.zip",
    "kumabus.gtfs.zip",
    "dentetsubus.gtfs.zip",
    "kumamotoshiden.gtfs.zip",
    "kumamotodentetsu.gtfs.zip",
]
MESH = "japan-kumamoto-pop-mesh/tblT001101H4930.txt"
HOSPITALS = "japan-kumamoto-facilities/kumamoto_city_hospitals.geojson"
DID = "japan-drone-airspace/r02_did_43_kumamoto.geojson"
AIRPORTS = "japan-drone-airspace/airport_surfaces_C28.geojson"


def osm_bbox(path: Path) -> tuple[float, float, float, float]:
    lons, lats = [], []
    for n in osmium.FileProcessor(str(path), osmium.osm.NODE):
        if not isinstance(n, osmium.osm.Node):
            continue
        lons.append(n.location.lon)
        lats.append(n.location.lat)
    return min(lons), min(lats), max(lons), max(lats)


def mesh_south_west(code: str) -> tuple[float, float]:
    lat = int(code[0:2]) / 1.5 + int(code[4]) * 5 / 60 + int(code[6]) * 30 / 3600
    lon = 100 + int(code[2:4]) + int(code[5]) * 7.5 / 60 + int(code[7]) * 45 / 3600
    if code[8] in "34":
        lat += 15 / 3600
    if code[8] in "24":
        lon += 22.5 / 3600
    return lon, lat


def trim_mesh(src: Path, dst: Path, bbox: tuple[float, float, float, float]) -> int:
    lines = src.read_bytes().splitlines(keepends=True)
    kept = lines[:2]
    for line in lines[2:]:
        code = line.split(b",", 1)[0].decode("ascii")
        lon, lat = mesh_south_west(code)
        if (
            lon < bbox[2]
            and lon + 22.5 / 3600 > bbox[0]
            and lat < bbox[3]
            and lat + 15 / 3600 > bbox[1]
        ):
            kept.append(line)
    dst.write_bytes(b"".join(kept))
    return len(kept) - 2


def main(shared: Path) -> None:
    shutil.copy(shared / OSM, HERE / Path(OSM).name)
    for name in GTFS:
        shutil.copy(shared / "gtfs-jp-kumamoto" / name, HERE / name)
    shutil.copy(shared / HOSPITALS, HERE / Path(HOSPITALS).name)
    bbox = osm_bbox(shared / OSM)
    print("bbox", bbox)
    print("mesh rows kept", trim_mesh(shared / MESH, HERE / Path(MESH).name, bbox))
    grown = box(bbox[0] - 0.1, bbox[1] - 0.1, bbox[2] + 0.1, bbox[3] + 0.1)
    did = gpd.read_file(shared / DID)
    did = did[did.intersects(grown)].copy()
    did["geometry"] = did.geometry.intersection(grown)
    did.to_file(HERE / "r02_did_43_kumamoto_clipped.geojson", driver="GeoJSON")
    print("DID polygons kept", len(did))
    air = gpd.read_file(shared / AIRPORTS)
    air = air[air["C28_005"].str.contains("熊本", na=False)]
    air.to_file(HERE / "kumamoto_airport_C28.geojson", driver="GeoJSON")
    print("airport polygons kept", len(air))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
